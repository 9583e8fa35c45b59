// Runs the wharf command as a child process, the way a user does. Works both from the built
// tree (dist/) and from the TypeScript sources under tsx.
import { spawn } from 'node:child_process';
import type { SpawnOptions, ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root, whether we run from dist/test/helpers or test/helpers. */
export const repoRoot = existsSync(join(here, '..', '..', 'package.json')) ? join(here, '..', '..') : join(here, '..', '..', '..');

/** argv (after the node binary) that runs `wharf`. */
export function wharfArgv(): string[] {
  if (import.meta.url.endsWith('.ts')) return ['--import', 'tsx', join(repoRoot, 'src', 'cli', 'run.ts')];
  return [join(repoRoot, 'bin', 'wharf')];
}

export function spawnWharf(args: string[], opts: SpawnOptions = {}): ChildProcess {
  return spawn(process.execPath, [...wharfArgv(), ...args], { cwd: repoRoot, ...opts, env: { ...process.env, ...opts.env } });
}

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `wharf args…` to completion, feeding `input` on stdin. */
export function runWharf(args: string[], opts: { input?: string | Buffer; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawnWharf(args, { env: opts.env ?? {}, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
    child.stdin!.end(opts.input ?? '');
  });
}
