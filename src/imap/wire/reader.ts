// Reads one IMAP command from a Connection: its lines and literals (RFC 3501 §4.3, §7.5;
// RFC 7888 LITERAL+). For a synchronising literal `{n}` the server answers "+ ..." before the
// client sends the octets; a non-synchronising one `{n+}` follows at once.
//
// Invariants
//  - memory is bounded: lines by maxLine; in-memory literals by maxBuffered in total; a literal
//    the caller streams (APPEND's message) passes through in chunks;
//  - a synchronising literal that is too big, or that the caller refuses, is refused BEFORE the
//    "+" (the client then does not send it); a non-synchronising one that is too big ends the
//    connection with BYE (its octets are already on the way, RFC 7888 §4);
//  - the text handed on keeps every line joined by CRLF, literal markers included; the literal
//    octets are in `literals`, in order (parser.ts).
import type { Connection } from '../../core/connection.js';
import { isWharfError } from '../../core/errors.js';
import { literalMarker, splitCommand } from './parser.js';
import type { Literal } from './parser.js';

export type LiteralPlan =
  | { kind: 'buffer' }
  | { kind: 'sink'; write: (chunk: Buffer) => Promise<void> }
  /** Refuse with this tagged response text (e.g. "NO [TOOBIG] message too large"). */
  | { kind: 'refuse'; response: string };

export interface ReadOptions {
  /** Largest literal accepted at all (imap.max_literal). */
  maxLiteral: number;
  /** Most octets kept in memory for one command's literals. */
  maxBuffered: number;
  /** Decides where a literal goes; default: kept in memory. */
  onLiteral?: (textSoFar: string, size: number, nonSync: boolean) => Promise<LiteralPlan>;
}

export type ReadResult =
  | { kind: 'command'; text: string; literals: Literal[] }
  | { kind: 'eof' }
  /** The command was consumed and must be answered with this line (tagged or untagged BAD/NO). */
  | { kind: 'answer'; line: string }
  /** The connection cannot continue: send this BYE line and close. */
  | { kind: 'fatal'; line: string };

export async function readCommand(conn: Connection, opts: ReadOptions): Promise<ReadResult> {
  let text = '';
  const literals: Literal[] = [];
  let buffered = 0;
  for (;;) {
    let raw: Buffer | null;
    try {
      raw = await conn.readLineBytes();
    } catch (e) {
      if (isWharfError(e, 'WHARF_LINE_TOO_LONG')) {
        const tag = splitCommand(text)?.tag;
        return { kind: 'answer', line: `${tag && text ? tag : '*'} BAD [TOOBIG] command line too long` };
      }
      throw e;
    }
    if (raw === null) return { kind: 'eof' };
    const line = raw.toString('utf8');
    text = text ? `${text}\r\n${line}` : line;
    const m = literalMarker(line);
    if (!m) return { kind: 'command', text, literals };
    const tag = splitCommand(text)?.tag ?? '*';
    if (!Number.isSafeInteger(m.size) || m.size > opts.maxLiteral) {
      if (m.nonSync) return { kind: 'fatal', line: `* BYE [TOOBIG] literal of ${m.size} octets is over the limit of ${opts.maxLiteral}` };
      return { kind: 'answer', line: `${tag} NO [TOOBIG] literal too large (limit ${opts.maxLiteral} octets)` };
    }
    const plan: LiteralPlan = opts.onLiteral ? await opts.onLiteral(text, m.size, m.nonSync) : { kind: 'buffer' };
    if (plan.kind === 'refuse') {
      if (!m.nonSync) return { kind: 'answer', line: plan.response };
      // Its octets are coming anyway: read past them, then answer.
      await conn.readExact(m.size, () => {});
      await drainRestOfCommand(conn);
      return { kind: 'answer', line: plan.response };
    }
    if (plan.kind === 'buffer' && buffered + m.size > opts.maxBuffered) {
      if (m.nonSync) return { kind: 'fatal', line: '* BYE [TOOBIG] command too large' };
      return { kind: 'answer', line: `${tag} BAD [TOOBIG] command too large` };
    }
    // RFC 3501 §7.5: the continuation request for a synchronising literal.
    if (!m.nonSync) await conn.writeLine('+ Ready for literal data');
    if (plan.kind === 'buffer') {
      literals.push(await conn.readBytes(m.size));
      buffered += m.size;
    } else {
      await conn.readExact(m.size, plan.write);
      literals.push({ streamed: true, size: m.size });
    }
    // The command continues on the line after the literal.
  }
}

/** After a refused non-synchronising literal: the rest of the command, up to its final line. */
async function drainRestOfCommand(conn: Connection): Promise<void> {
  for (;;) {
    const raw = await conn.readLineBytes().catch(() => Buffer.alloc(0));
    if (raw === null) return;
    const m = literalMarker(raw.toString('latin1'));
    if (!m) return;
    if (!m.nonSync) return; // the client waits for "+": the command is over
    await conn.readExact(m.size, () => {});
  }
}
