// The FTP and implicit FTPS service(s) of an instance: a factory reading the instance's config.
import type { ServiceFactory } from '../service.js';

export const ftpServices: ServiceFactory = () => null;
