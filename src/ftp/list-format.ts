// Directory listings: LIST in the `ls -l` style every client parses (no RFC fixes it; RFC 959
// §4.1.3 only says "human-readable"), NLST names (RFC 959 §4.1.3), and the machine facts of
// MLSD/MLST (RFC 3659 §7). Pure functions over stat-like values.
//
// Invariants
//  - No output line contains CR or LF: names with them are left out by the caller (listable()).
//  - Owner/group are fixed words ("ftp"): the listing leaks no local user names or uids.
import type { Stats } from 'node:fs';
import { formatTimeVal } from './parse.js';

export interface EntryInfo {
  name: string;
  /** From lstat for the link itself, or stat for its target (the caller decides). */
  stat: Pick<Stats, 'mode' | 'size' | 'mtime' | 'nlink' | 'isDirectory' | 'isFile' | 'isSymbolicLink' | 'ino' | 'dev'>;
}

/** A name that can be sent on the control or data connection as one line. */
export function listable(name: string): boolean {
  return !/[\r\n]/.test(name);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const SIX_MONTHS = 182 * 86_400_000;

function modeString(e: EntryInfo): string {
  const m = e.stat.mode;
  const type = e.stat.isDirectory() ? 'd' : e.stat.isSymbolicLink() ? 'l' : '-';
  const bits = ['r', 'w', 'x', 'r', 'w', 'x', 'r', 'w', 'x'];
  let out = type;
  for (let i = 0; i < 9; i++) out += m & (1 << (8 - i)) ? bits[i] : '-';
  return out;
}

function lsDate(d: Date, now: Date): string {
  const mon = MONTHS[d.getUTCMonth()]!;
  const day = String(d.getUTCDate()).padStart(2, ' ');
  const recent = Math.abs(now.getTime() - d.getTime()) < SIX_MONTHS;
  if (recent) return `${mon} ${day} ${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
  return `${mon} ${day}  ${d.getUTCFullYear()}`;
}

/** One `ls -l` line: "-rw-r--r--   1 ftp      ftp          1234 Nov 23 10:59 name". */
export function formatListLine(e: EntryInfo, now = new Date()): string {
  const size = String(e.stat.size).padStart(12, ' ');
  const links = String(e.stat.nlink).padStart(4, ' ');
  return `${modeString(e)}${links} ftp      ftp      ${size} ${lsDate(e.stat.mtime, now)} ${e.name}`;
}

export type Fact = 'type' | 'size' | 'modify' | 'perm' | 'unique' | 'unix.mode';
/** RFC 3659 §7.5: the facts this server knows, canonical spelling for FEAT. */
export const ALL_FACTS: Fact[] = ['type', 'size', 'modify', 'perm', 'unique', 'unix.mode'];
export const FACT_NAMES: Record<Fact, string> = { type: 'Type', size: 'Size', modify: 'Modify', perm: 'Perm', unique: 'Unique', 'unix.mode': 'UNIX.mode' };
export const DEFAULT_FACTS: Fact[] = ['type', 'size', 'modify', 'perm', 'unique'];

/** RFC 3659 §7.8: "MLST Type*;Size*;…" for FEAT, a star on the selected facts. */
export function featMlst(selected: readonly Fact[]): string {
  return 'MLST ' + ALL_FACTS.map((f) => `${FACT_NAMES[f]}${selected.includes(f) ? '*' : ''};`).join('');
}

/** RFC 3659 §7.9: the facts an "OPTS MLST a;b;" asks for, unknown ones dropped. */
export function parseFactList(s: string): Fact[] {
  const wanted = s.split(';').map((f) => f.trim().toLowerCase()).filter(Boolean);
  return ALL_FACTS.filter((f) => wanted.includes(f));
}

export interface MlsxOptions {
  facts: readonly Fact[];
  /** The entry is the directory being listed (type=cdir) or its parent (type=pdir). */
  kind?: 'cdir' | 'pdir';
  /** Read-only session (anonymous): no write permissions advertised. */
  readOnly: boolean;
}

/** RFC 3659 §7.2: "fact=value;fact=value; name" (one space before the name). */
export function formatMlsxLine(e: EntryInfo, opts: MlsxOptions): string {
  const dir = e.stat.isDirectory();
  const facts: string[] = [];
  for (const f of opts.facts) {
    switch (f) {
      case 'type':
        // RFC 3659 §7.5.1
        facts.push(`type=${opts.kind ?? (dir ? 'dir' : e.stat.isFile() ? 'file' : 'OS.unix=other')}`);
        break;
      case 'size':
        // RFC 3659 §7.5.7: size of a file; directories get it too (harmless, clients ignore it)
        if (!dir) facts.push(`size=${e.stat.size}`);
        break;
      case 'modify':
        facts.push(`modify=${formatTimeVal(e.stat.mtime)}`); // RFC 3659 §7.5.3
        break;
      case 'perm':
        // RFC 3659 §7.5.5
        if (dir) facts.push(`perm=${opts.readOnly ? 'el' : 'cdeflmp'}`);
        else facts.push(`perm=${opts.readOnly ? 'r' : 'adfrw'}`);
        break;
      case 'unique':
        facts.push(`unique=${e.stat.dev.toString(16)}g${e.stat.ino.toString(16)}`); // RFC 3659 §7.5.2
        break;
      case 'unix.mode':
        facts.push(`UNIX.mode=0${(e.stat.mode & 0o7777).toString(8)}`);
        break;
    }
  }
  return `${facts.map((f) => f + ';').join('')} ${e.name}`;
}
