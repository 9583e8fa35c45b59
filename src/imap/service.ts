// The IMAP service(s) of an instance: `imap` (STARTTLS) and `imaps` (implicit TLS), each when
// enabled in the config.
import type { Service, ServiceFactory } from '../service.js';
import { imapServer } from './server.js';

export const imapServices: ServiceFactory = (wharf) => {
  const out: Service[] = [];
  if (wharf.config.imap.enabled) out.push(imapServer(wharf, 'imap'));
  if (wharf.config.imaps.enabled) out.push(imapServer(wharf, 'imaps'));
  return out;
};
