// The services an instance runs, in start order. Each entry is a factory that reads the
// instance's config and returns its Service(s), or null when disabled. Add a line per protocol.
import type { ServiceFactory } from './service.js';

export const services: ServiceFactory[] = [];
