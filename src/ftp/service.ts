// The FTP service(s) of an instance: `ftp` (RFC 959 with AUTH TLS, RFC 4217) and `ftps`
// (implicit TLS), each when enabled in the config.
import type { Service, ServiceFactory } from '../service.js';
import { FtpServer } from './server.js';

export const ftpServices: ServiceFactory = (wharf) => {
  const out: Service[] = [];
  if (wharf.config.ftp.enabled) out.push(new FtpServer(wharf, 'ftp'));
  if (wharf.config.ftps.enabled) out.push(new FtpServer(wharf, 'ftps'));
  return out;
};
