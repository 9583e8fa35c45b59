// Structured logging: one JSON object per line, to a stream (stderr by default). Each instance
// has its own Logger; child loggers add fixed fields (service, session). Levels below the
// configured one cost one comparison. Secrets are never passed to a logger.
import type { Writable } from 'node:stream';
import type { EventBus, LogEvent } from './events.js';

export type Level = LogEvent['level'];
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  level?: Level;
  stream?: Writable | null;
  bus?: EventBus;
  fields?: Record<string, unknown>;
}

export class Logger {
  private readonly min: number;
  private readonly stream: Writable | null;
  /** The instance's bus (log events; listeners publish 'connection' events on it). */
  readonly bus: EventBus | undefined;
  private readonly fields: Record<string, unknown>;
  constructor(opts: LoggerOptions = {}) {
    this.min = order[opts.level ?? 'info'];
    this.stream = opts.stream === undefined ? process.stderr : opts.stream;
    this.bus = opts.bus;
    this.fields = opts.fields ?? {};
  }
  child(fields: Record<string, unknown>): Logger {
    const l = Object.create(Logger.prototype) as Logger;
    Object.assign(l, this, { fields: { ...this.fields, ...fields } });
    return l;
  }
  enabled(level: Level): boolean {
    return order[level] >= this.min;
  }
  log(level: Level, msg: string, extra?: Record<string, unknown>): void {
    if (order[level] < this.min) return;
    const ev: LogEvent = { level, msg, ...this.fields, ...extra };
    if (this.stream) this.stream.write(JSON.stringify({ time: new Date().toISOString(), ...ev }, replacer) + '\n');
    this.bus?.emit('log', ev);
  }
  debug(msg: string, extra?: Record<string, unknown>): void {
    this.log('debug', msg, extra);
  }
  info(msg: string, extra?: Record<string, unknown>): void {
    this.log('info', msg, extra);
  }
  warn(msg: string, extra?: Record<string, unknown>): void {
    this.log('warn', msg, extra);
  }
  error(msg: string, extra?: Record<string, unknown>): void {
    this.log('error', msg, extra);
  }
}

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { message: value.message, code: (value as { code?: unknown }).code, stack: value.stack };
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** A logger that drops everything (tests, library use). */
export function silentLogger(): Logger {
  return new Logger({ stream: null, level: 'error' });
}
