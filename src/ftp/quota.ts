// Per-user FTP quota as a running counter: the bytes stored under each home, found once per
// process by walking the home the first time a quota applies to it, then kept up to date by the
// sessions' own changes (STOR/STOU/APPE charge as bytes arrive, a failed STOR gives them back,
// DELE and a replacing STOR/RNTO free the old file's bytes). One ledger per Wharf instance, shared
// by the `ftp` and `ftps` listeners, so concurrent sessions of one user count against one figure.
//
// Invariants
//  - At most one walk per home per ledger: concurrent first uses share it (`walks` counts them).
//  - Only regular files count (as the walk does): folders and symlinks are free. RMD removes only
//    empty folders, so it never changes the figure.
//  - Charging is synchronous (check and add in one step on the event loop), so two uploads of the
//    same user cannot both pass a check that only one of them fits: the one whose chunk would
//    cross the limit fails (552) and gives back what it had charged.
//  - An upload that replaces a file may use the old file's bytes (`allowance`): the figure may
//    exceed the limit by that much while both exist, and is exact again once the rename is done.
//  - Changes made behind Wharf's back (another process writing in a home) are seen at the next
//    process start only: the counter is a running figure, not a scan.
import { lstat, readdir } from 'node:fs/promises';
import * as path from 'node:path';

/** One home's usage. */
export class HomeUsage {
  constructor(
    /** Bytes in regular files under the home. */
    public used: number,
  ) {}

  /** Adds n bytes if the result stays within limit + allowance; false (nothing added) if not. */
  tryCharge(n: number, limit: number, allowance = 0): boolean {
    if (this.used + n > limit + allowance) return false;
    this.used += n;
    return true;
  }

  /** Bytes freed (a file deleted or replaced, an upload discarded). */
  release(n: number): void {
    this.used = Math.max(0, this.used - n);
  }
}

export class QuotaLedger {
  private readonly homes = new Map<string, Promise<HomeUsage>>();
  /** Homes walked so far (tests check that an upload does not walk). */
  walks = 0;

  /** The usage of a home (its real path), walking it on first use. */
  usage(root: string): Promise<HomeUsage> {
    let p = this.homes.get(root);
    if (!p) {
      this.walks++;
      p = diskUsage(root).then((n) => new HomeUsage(n));
      // A failed walk is retried at the next use rather than remembered.
      p.catch(() => this.homes.delete(root));
      this.homes.set(root, p);
    }
    return p;
  }

  /** The usage of a home already tracked, without walking (undefined when not tracked). */
  tracked(root: string): Promise<HomeUsage> | undefined {
    return this.homes.get(root);
  }
}

/** Bytes in regular files under a folder (symlinks not followed), lstat'ed a folder at a time. */
export async function diskUsage(root: string): Promise<number> {
  let total = 0;
  const stack = [root];
  while (stack.length) {
    const dir = stack.pop()!;
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    const files: string[] = [];
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) stack.push(full);
      else if (e.isFile()) files.push(full);
    }
    for (let i = 0; i < files.length; i += 64) {
      const sizes = await Promise.all(files.slice(i, i + 64).map((f) => lstat(f).then((s) => s.size, () => 0)));
      for (const s of sizes) total += s;
    }
  }
  return total;
}
