// POP3 command lines (RFC 1939 §3): a case-insensitive keyword of three or four printable
// characters, then arguments separated by single spaces. RFC 2449 §4 caps arguments at 40
// octets; we are lenient on lengths (the connection bounds the line) but strict on numbers.

export interface Pop3Command {
  /** Upper case. */
  verb: string;
  args: string[];
  /** Text after the keyword and one space, as sent (for APOP/AUTH arguments). */
  rest: string;
}

/** null when the line is not a command at all (empty, or a keyword with odd characters). */
export function parseCommand(line: string): Pop3Command | null {
  const sp = line.indexOf(' ');
  const keyword = sp < 0 ? line : line.slice(0, sp);
  if (!/^[A-Za-z]{3,4}$/.test(keyword)) return null;
  const rest = sp < 0 ? '' : line.slice(sp + 1);
  const args = rest === '' ? [] : rest.split(' ').filter((a) => a !== '');
  return { verb: keyword.toUpperCase(), args, rest };
}

/**
 * A message-number or count (RFC 1939 §3: decimal). null when not a plain decimal number that
 * fits; leading zeros are tolerated as many servers do.
 */
export function parseNumber(text: string | undefined): number | null {
  if (text === undefined || !/^\d{1,9}$/.test(text)) return null;
  return Number(text);
}

/** Hides secrets in a command line before it reaches a transcript. */
export function redactCommand(line: string): string {
  const m = /^(\S+)(?: (.*))?$/.exec(line);
  if (!m) return line;
  const verb = m[1]!.toUpperCase();
  if (verb === 'PASS') return `${m[1]} ****`;
  if (verb === 'APOP') return `${m[1]} ${(m[2] ?? '').split(' ')[0]} ****`;
  if (verb === 'AUTH') {
    const parts = (m[2] ?? '').split(' ');
    return parts.length > 1 ? `${m[1]} ${parts[0]} ****` : line;
  }
  return line;
}
