// The caching HTTP proxy service of an instance (forward proxy, or reverse with proxy.upstream).
import type { ServiceFactory } from '../service.js';

export const proxyServices: ServiceFactory = () => null;
