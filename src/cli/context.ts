// What every CLI command gets: the parsed global options, the loaded config, output functions,
// and a way to open the instance's store without starting listeners. Commands return an exit
// status; they never call process.exit themselves (tests run them in-process).
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Config } from '../config/schema.js';
import type { Wharf } from '../wharf.js';

export interface CliIO {
  out: (line: string) => void;
  err: (line: string) => void;
  stdin: Readable;
  env: Record<string, string | undefined>;
}

export interface CliContext extends CliIO {
  config: Config;
  configFile: string | undefined;
  dataDir: string;
  /** An instance with the store open (no listeners); closed by the dispatcher afterwards. */
  open(): Promise<Wharf>;
}

export interface Command {
  /** "user add" */
  name: string;
  usage: string;
  summary: string;
  run(ctx: CliContext, args: string[]): Promise<number>;
}

/** Exit statuses (sysexits(3) where one fits). */
export const Exit = {
  ok: 0,
  failure: 1,
  usage: 2,
  dataErr: 65,
  noUser: 67,
  software: 70,
  tempFail: 75,
} as const;

export class UsageError extends Error {}

/** Reads all of stdin as a Buffer. */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks);
}

/** A password from --password, or the first line of stdin with --password-stdin. */
export async function passwordFrom(values: { password?: string | undefined; 'password-stdin'?: boolean | undefined }, stdin: Readable): Promise<string> {
  if (values.password !== undefined && values['password-stdin']) throw new UsageError('give --password or --password-stdin, not both');
  if (values.password !== undefined) return values.password;
  if (values['password-stdin']) {
    const text = (await readAll(stdin)).toString('utf8');
    return text.replace(/\r?\n[\s\S]*$/, '');
  }
  throw new UsageError('a password is required: --password P or --password-stdin');
}

export function readTextFile(path: string): string {
  return readFileSync(path, 'utf8');
}
