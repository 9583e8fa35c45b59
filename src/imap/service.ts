// The IMAP service(s) of an instance: `imap` (STARTTLS) and `imaps` (implicit TLS), each when
// enabled in the config. imap.workers > 1 serves both from that many processes sharing the
// listening sockets (src/core/worker-pool.ts): IDLE and NOOP learn of changes made in other
// processes through the store's change watch; the login throttle and the connection limits are
// per process.
import { pooledServices } from '../core/worker-pool.js';
import type { Service, ServiceFactory } from '../service.js';
import { imapServer } from './server.js';

export const imapServices: ServiceFactory = (wharf) => {
  const out: Service[] = [];
  if (wharf.config.imap.enabled) out.push(imapServer(wharf, 'imap'));
  if (wharf.config.imaps.enabled) out.push(imapServer(wharf, 'imaps'));
  return pooledServices(wharf, { name: 'imap', workers: wharf.config.imap.workers, services: out, balance: 'least-connections' });
};
