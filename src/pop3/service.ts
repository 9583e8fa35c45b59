// The POP3 service(s) of an instance: `pop3` (RFC 1939, STLS) and `pop3s` (implicit TLS), each
// when enabled in the config.
import type { Service, ServiceFactory } from '../service.js';
import { pop3Server } from './server.js';

export const pop3Services: ServiceFactory = (wharf) => {
  const out: Service[] = [];
  if (wharf.config.pop3.enabled) out.push(pop3Server(wharf, 'pop3'));
  if (wharf.config.pop3s.enabled) out.push(pop3Server(wharf, 'pop3s'));
  return out;
};
