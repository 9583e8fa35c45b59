// The POP3 service(s) of an instance: `pop3` (RFC 1939, STLS) and `pop3s` (implicit TLS), each
// when enabled in the config. pop3.workers > 1 serves both from that many processes sharing the
// listening sockets (src/core/worker-pool.ts). Across processes: the maildrop lock ([IN-USE]) is
// a store lease, so it holds between sessions of different processes; the login throttle and the
// connection limits are per process.
import { pooledServices } from '../core/worker-pool.js';
import type { Service, ServiceFactory } from '../service.js';
import { pop3Server } from './server.js';

export const pop3Services: ServiceFactory = (wharf) => {
  const out: Service[] = [];
  if (wharf.config.pop3.enabled) out.push(pop3Server(wharf, 'pop3'));
  if (wharf.config.pop3s.enabled) out.push(pop3Server(wharf, 'pop3s'));
  return pooledServices(wharf, { name: 'pop3', workers: wharf.config.pop3.workers, services: out, balance: 'least-connections' });
};
