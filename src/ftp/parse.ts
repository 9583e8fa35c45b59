// FTP command-line codec: the verb and its argument (RFC 959 §5.3), the host-port of PORT/PASV
// (RFC 959 §4.1.2), the extended addresses of EPRT/EPSV (RFC 2428 §2-3), MDTM/MLST times
// (RFC 3659 §2.3). Pure functions, no I/O.
//
// Invariants
//  - parseCommand never throws: anything that is not "VERB[ SP arg]" comes back as verb ''.
//  - Telnet IAC sequences (RFC 959 §4.1.3: IP / Synch before ABOR) are stripped from the line.
//  - RFC 959 §3.2 / RFC 2640 §3.1: a CR inside a path is sent as CR NUL; it is turned back into CR
//    here (the jail then refuses it) and any other NUL is kept so the jail can refuse it too.
import { isIP } from 'node:net';
import { normalizeAddress } from '../core/net.js';

export interface FtpCommand {
  /** Upper-case verb, '' when the line is not a command. */
  verb: string;
  /** Everything after the first space (may be empty, may contain spaces). */
  arg: string;
}

const IAC = 0xff;

/** Removes Telnet IAC commands (IAC IP, IAC DM, IAC IAC → 0xFF) from raw bytes. */
export function stripTelnet(line: Buffer): Buffer {
  if (!line.includes(IAC)) return line;
  const out: number[] = [];
  for (let i = 0; i < line.length; i++) {
    const b = line[i]!;
    if (b !== IAC) {
      out.push(b);
      continue;
    }
    const next = line[i + 1];
    if (next === IAC) {
      out.push(IAC);
      i++;
    } else if (next !== undefined && next >= 251 && next <= 254) {
      i += 2; // WILL/WONT/DO/DONT <option>
    } else {
      i++; // IP (244), DM (242), AO, …
    }
  }
  return Buffer.from(out);
}

/** RFC 959 §5.3.1: "VERB" or "VERB SP argument". Verbs are 3-4 letters, case-insensitive. */
export function parseCommand(raw: Buffer | string): FtpCommand {
  let text = typeof raw === 'string' ? raw : stripTelnet(raw).toString('utf8');
  // Stray Synch bytes (an urgent IAC dropped by the kernel leaves a DM \xf2 in front) or spaces.
  text = text.replace(/^[\s\u00f2\ufffd]+/, '');
  const m = /^([A-Za-z]{3,4})(?: (.*))?$/s.exec(text);
  if (!m) return { verb: '', arg: '' };
  return { verb: m[1]!.toUpperCase(), arg: (m[2] ?? '').replace(/\r\0/g, '\r') };
}

/** Redaction for transcripts: "PASS ****". */
export function redactCommand(line: string): string {
  return /^\s*PASS\b/i.test(line) ? 'PASS ****' : line;
}

export interface HostPort {
  host: string;
  port: number;
}

/** RFC 959 §4.1.2: "h1,h2,h3,h4,p1,p2". null when malformed. */
export function parseHostPort(arg: string): HostPort | null {
  const parts = arg.trim().split(',');
  if (parts.length !== 6 || !parts.every((p) => /^\d{1,3}$/.test(p.trim()))) return null;
  const n = parts.map((p) => Number(p.trim()));
  if (n.some((v) => v > 255)) return null;
  const port = n[4]! * 256 + n[5]!;
  if (port === 0) return null;
  return { host: n.slice(0, 4).join('.'), port };
}

/** The 227 reply text of PASV: "Entering Passive Mode (h1,h2,h3,h4,p1,p2)." */
export function formatPasv(host: string, port: number): string {
  return `Entering Passive Mode (${host.split('.').join(',')},${port >> 8},${port & 0xff}).`;
}

/** RFC 2428 §3: the 229 reply text of EPSV. */
export function formatEpsv(port: number): string {
  return `Entering Extended Passive Mode (|||${port}|)`;
}

/** RFC 2428 §2: "<d><net-prt><d><net-addr><d><tcp-port><d>", d any char in 33-126. */
export function parseEprt(arg: string): (HostPort & { family: 1 | 2 }) | { error: 'syntax' | 'family' } {
  const s = arg.trim();
  if (s.length < 7) return { error: 'syntax' };
  const d = s[0]!;
  const code = d.charCodeAt(0);
  if (code < 33 || code > 126 || /[0-9a-fA-F.:]/.test(d)) return { error: 'syntax' };
  const parts = s.split(d);
  if (parts.length !== 5 || parts[0] !== '' || parts[4] !== '') return { error: 'syntax' };
  const [, fam, addr, portText] = parts as [string, string, string, string];
  if (fam !== '1' && fam !== '2') return { error: 'family' };
  if (!/^\d{1,5}$/.test(portText)) return { error: 'syntax' };
  const port = Number(portText);
  if (port < 1 || port > 65535) return { error: 'syntax' };
  const kind = isIP(addr);
  if ((fam === '1' && kind !== 4) || (fam === '2' && kind !== 6)) return { error: 'syntax' };
  return { family: fam === '1' ? 1 : 2, host: normalizeAddress(addr), port };
}

/** RFC 3659 §2.3: time-val "YYYYMMDDHHMMSS[.sss]" in UTC. */
export function formatTimeVal(d: Date): string {
  const iso = d.toISOString(); // 2026-11-23T10:59:47.123Z
  return iso.slice(0, 19).replace(/[-T:]/g, '');
}

/** RFC 3659 §2.3: parses a time-val (MFMT / MDTM with a time); null when malformed. */
export function parseTimeVal(s: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,3}))?$/.exec(s);
  if (!m) return null;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = m[7] ? Number(m[7].padEnd(3, '0')) : 0;
  const t = Date.UTC(y, mo - 1, d, h, mi, se, ms);
  const out = new Date(t);
  if (out.getUTCMonth() !== mo - 1 || out.getUTCDate() !== d || h > 23 || mi > 59 || se > 60) return null;
  return out;
}

/** REST argument (RFC 3659 §5.3): a non-negative decimal byte offset. */
export function parseRestOffset(arg: string): number | null {
  if (!/^\d{1,15}$/.test(arg.trim())) return null;
  return Number(arg.trim());
}
