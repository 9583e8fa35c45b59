// The FTP service(s) of an instance: `ftp` (RFC 959 with AUTH TLS, RFC 4217) and `ftps`
// (implicit TLS), each when enabled in the config.
import type { Service, ServiceFactory } from '../service.js';
import { ftpServer } from './server.js';
import { FtpShared } from './shared.js';

export const ftpServices: ServiceFactory = (wharf) => {
  const out: Service[] = [];
  // One per instance: a user may be logged in on both listeners at once (quota counters).
  const shared = new FtpShared();
  if (wharf.config.ftp.enabled) out.push(ftpServer(wharf, 'ftp', shared));
  if (wharf.config.ftps.enabled) out.push(ftpServer(wharf, 'ftps', shared));
  return out;
};
