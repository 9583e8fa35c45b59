// The services an instance runs, in start order. Each protocol owns its factory in
// src/<proto>/service.ts; a module is loaded only when one of the config sections it serves is
// enabled, so an instance (or a test) running POP3 alone never loads the FTP or DNS code.
// DNS comes first: the mail queue and the proxy resolve names through its resolver.
import type { ServiceFactory } from './service.js';

export interface ServiceModule {
  /** Config sections with an `enabled` key; the module is loaded when any of them is on. */
  sections: readonly string[];
  load(): Promise<ServiceFactory>;
}

export const services: ServiceModule[] = [
  { sections: ['dns', 'smtp', 'submission', 'submissions', 'queue', 'proxy'], load: async () => (await import('./dns/service.js')).dnsServices },
  { sections: ['smtp', 'submission', 'submissions', 'queue'], load: async () => (await import('./smtp/service.js')).smtpServices },
  { sections: ['pop3', 'pop3s'], load: async () => (await import('./pop3/service.js')).pop3Services },
  { sections: ['imap', 'imaps'], load: async () => (await import('./imap/service.js')).imapServices },
  { sections: ['ftp', 'ftps'], load: async () => (await import('./ftp/service.js')).ftpServices },
  { sections: ['proxy'], load: async () => (await import('./http-proxy/service.js')).proxyServices },
  // Last: the console shows every other service of the instance.
  { sections: ['console'], load: async () => (await import('./console/service.js')).consoleServices },
];
