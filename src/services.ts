// The services an instance runs, in start order. Each entry is a factory that reads the
// instance's config and returns its Service(s), or null when disabled. DNS starts first (the
// mail queue resolves MX through it); each protocol owns its factory in src/<proto>/service.ts.
import { dnsServices } from './dns/service.js';
import { ftpServices } from './ftp/service.js';
import { pop3Services } from './pop3/service.js';
import type { ServiceFactory } from './service.js';
import { smtpServices } from './smtp/service.js';

export const services: ServiceFactory[] = [dnsServices, smtpServices, pop3Services, ftpServices];
