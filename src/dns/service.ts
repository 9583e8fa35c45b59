// The DNS over UDP and TCP (authoritative and recursive) service(s) of an instance: a factory reading the instance's config.
import type { ServiceFactory } from '../service.js';

export const dnsServices: ServiceFactory = () => null;
