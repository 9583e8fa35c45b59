// The SMTP (MX, submission, submissions) and the outgoing queue runner service(s) of an instance: a factory reading the instance's config.
import type { ServiceFactory } from '../service.js';

export const smtpServices: ServiceFactory = () => null;
