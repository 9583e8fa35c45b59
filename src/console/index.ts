// The web console and its JSON admin API (issue 9). One console shows one or more Wharf
// instances: `wharf start` shows its own instance; `wharf lab` shows every instance of the lab
// (root, TLD and authoritative DNS servers, resolvers, two mail domains, FTP, proxy).
import type { Logger } from '../core/logger.js';
import type { Wharf } from '../wharf.js';

export interface ConsoleSource {
  /** How the console names this instance ("hamburger.edu", "root", "wharf"). */
  name: string;
  wharf: Wharf;
}

export interface ConsoleOptions {
  host: string;
  /** 0 = any free port. */
  port: number;
  /** The instances shown. Their buses feed transcripts and DNS traces; their stores the views. */
  sources: ConsoleSource[];
  /**
   * The instance whose accounts log in to the admin part (an account with admin = true), and
   * whose store answers domain/user/zone/queue routes when a route names no source.
   */
  authority: Wharf;
  /** Transcript lines kept in memory (console.transcript_buffer). */
  transcriptBuffer: number;
  logger: Logger;
}

export interface RunningConsole {
  host: string;
  port: number;
  /** Adds an instance after start (the lab adds instances as it builds them). */
  addSource(source: ConsoleSource): void;
  stop(): Promise<void>;
}

export async function startConsole(_opts: ConsoleOptions): Promise<RunningConsole> {
  throw new Error('not yet built');
}
