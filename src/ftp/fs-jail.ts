// The jail: maps a client's path (relative to its current directory, or absolute within its
// home) to a real path inside the home, and back. The client sees a virtual tree rooted at "/".
//
// Invariants
//  - A resolved real path is always the home itself or below it. Textual normalisation happens on
//    the virtual path (so "..", "/..", "../../etc/passwd" stop at "/"), then the real path is
//    checked with realpath(): a symlink that points out of the home (to a file or a folder) is
//    refused, for the target itself and, for a name that does not exist yet, for its parent.
//  - NUL, CR and LF in a path are refused (553): they cannot name a file safely on the wire.
//  - Backslashes are ordinary characters on POSIX; they never act as separators, so "..\..\x" is
//    one odd file name inside the home, not an escape. Percent-encoding is not decoded ("%2e%2e"
//    is a literal name), so it cannot smuggle "..".
//  - Names longer than NAME_MAX (255 octets) or paths longer than PATH_MAX are refused.
//  - resolveNew/resolveEntry hand back what they lstat'ed (`stats`), so a command does not stat
//    the same name again (one file-system round trip less per upload).
import type { Stats } from 'node:fs';
import { realpath, lstat, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { ReplyError } from '../core/errors.js';
import { C550NotFound, C553BadName } from './codes.js';

const NAME_MAX = 255;
const PATH_MAX = 4000;

export interface Resolved {
  /** Virtual path as the client sees it ("/docs/a.txt"). */
  virtual: string;
  /** Real path on disk. */
  real: string;
}

export interface ResolvedNew extends Resolved {
  /** What the name is now (a symlink followed), or null when nothing is there. */
  stats: Stats | null;
}

export interface ResolvedEntry extends Resolved {
  /** The entry itself (lstat: a symlink is not followed). */
  stats: Stats;
}

export class FsJail {
  /** The home's real path (symlinks resolved). */
  readonly root: string;

  private constructor(root: string) {
    this.root = root;
  }

  /** The home must exist. */
  static async open(home: string): Promise<FsJail> {
    return new FsJail(await realpath(home));
  }

  /** RFC 959: the virtual path for a client argument relative to cwd; throws 553 on bad names. */
  virtualPath(cwd: string, arg: string): string {
    if (/[\0\r\n]/.test(arg)) throw new ReplyError(C553BadName);
    const joined = arg.startsWith('/') ? arg : `${cwd}/${arg}`;
    const norm = path.posix.normalize('/' + joined); // "/.." -> "/"
    const out = norm.length > 1 && norm.endsWith('/') ? norm.slice(0, -1) : norm;
    if (Buffer.byteLength(out) > PATH_MAX) throw new ReplyError(C553BadName);
    for (const part of out.split('/')) if (Buffer.byteLength(part) > NAME_MAX) throw new ReplyError(C553BadName);
    return out;
  }

  /** Real path of a virtual path, without following anything (not yet checked). */
  private lexicalReal(virtual: string): string {
    return virtual === '/' ? this.root : path.join(this.root, virtual);
  }

  private inside(real: string): boolean {
    return real === this.root || real.startsWith(this.root + path.sep);
  }

  /**
   * An existing file or folder. Follows symlinks and checks that the target stays inside.
   * Throws 550 when it does not exist or escapes.
   */
  async resolveExisting(cwd: string, arg: string): Promise<Resolved> {
    const virtual = this.virtualPath(cwd, arg);
    let real: string;
    try {
      real = await realpath(this.lexicalReal(virtual));
    } catch {
      throw new ReplyError(C550NotFound);
    }
    if (!this.inside(real)) throw new ReplyError(C550NotFound);
    return { virtual, real };
  }

  /**
   * A name to create or act on without following it (STOR, MKD, RNTO, DELE, RMD, RNFR): the
   * parent must exist inside the jail (symlinks resolved); the final name is not followed, but if
   * it is a symlink its target must be inside too (APPE and REST+STOR open through it).
   */
  async resolveNew(cwd: string, arg: string): Promise<ResolvedNew> {
    const { st, ...r } = await this.resolveParent(cwd, arg);
    if (st?.isSymbolicLink()) {
      // A dangling link is refused too: writing through it would create its target, anywhere.
      const target = await realpath(r.real).catch(() => null);
      if (target === null || !this.inside(target)) throw new ReplyError(C553BadName);
      return { ...r, stats: await stat(target).catch(() => null) };
    }
    return { ...r, stats: st };
  }

  /**
   * The parent resolved and checked, and the lstat of the name. The lstat runs beside the
   * realpath (one round trip, not two) on the path as written; its result is used only once the
   * parent is known to be inside, where both paths name the same entry.
   */
  private async resolveParent(cwd: string, arg: string): Promise<Resolved & { st: Stats | null }> {
    const virtual = this.virtualPath(cwd, arg);
    if (virtual === '/') throw new ReplyError(C553BadName);
    const name = path.posix.basename(virtual);
    const parentVirtual = path.posix.dirname(virtual);
    const [parent, st] = await Promise.all([realpath(this.lexicalReal(parentVirtual)).catch(() => null), lstat(this.lexicalReal(virtual)).catch(() => null)]);
    if (parent === null || !this.inside(parent)) throw new ReplyError(C550NotFound);
    return { virtual, real: path.join(parent, name), st };
  }

  /** The entry itself, which must exist (lstat): DELE, RMD, RNFR act on a symlink, not its target. */
  async resolveEntry(cwd: string, arg: string): Promise<ResolvedEntry> {
    const { st, ...r } = await this.resolveParent(cwd, arg);
    if (!st) throw new ReplyError(C550NotFound);
    return { ...r, stats: st };
  }

  /** The virtual path of a real path inside the jail (for messages). */
  toVirtual(real: string): string {
    if (!this.inside(real)) return '/';
    const rel = path.relative(this.root, real);
    return rel === '' ? '/' : '/' + rel.split(path.sep).join('/');
  }
}
