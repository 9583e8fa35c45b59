// What the instance knows of a service: something that starts listeners and stops them.
// Each protocol module exports a factory `(wharf) => Service | null` (null when disabled by
// config); src/wharf.ts lists the factories in start order.
import type { Wharf } from './wharf.js';

export interface BoundAddress {
  /** Config section: "smtp", "pop3s", "dns", … */
  service: string;
  host: string;
  port: number;
  transport: 'tcp' | 'udp' | 'tcp+udp';
  tls?: boolean;
}

export interface Service {
  readonly name: string;
  start(): Promise<BoundAddress[]>;
  /** Graceful: stop accepting, let sessions finish up to the deadline, then close the rest. */
  stop(deadlineMs: number): Promise<void>;
}

export type ServiceFactory = (wharf: Wharf) => Service | Service[] | null | Promise<Service | Service[] | null>;
