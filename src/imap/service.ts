// The IMAP service(s) of an instance: `imap` (STARTTLS) and `imaps` (implicit TLS).
import type { ServiceFactory } from '../service.js';

export const imapServices: ServiceFactory = () => null;
