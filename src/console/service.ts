// The console as a service of one instance (`console.*`, 8025 on the embedded default).
import type { ServiceFactory } from '../service.js';

export const consoleServices: ServiceFactory = () => null;
