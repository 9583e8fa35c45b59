// The POP3 and POP3S service(s) of an instance: a factory reading the instance's config.
import type { ServiceFactory } from '../service.js';

export const pop3Services: ServiceFactory = () => null;
