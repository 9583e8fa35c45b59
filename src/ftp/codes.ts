// FTP replies as data (RFC 959 §4.2): a three-digit code and one or more lines of text, with
// named constants for the fixed ones and small builders for those that carry a value.
//
// Invariants
//  - formatReply() never emits CR or LF inside a line: a CR or LF in a value (a file name) is
//    replaced, so a reply can never be split into two by a client-chosen name.
//  - RFC 959 §4.2: a multi-line reply is "ddd-first", any middle lines, "ddd last"; a middle line
//    that starts with three digits is indented by a space so it cannot be taken for the end.

export interface FtpReply {
  code: number;
  /** One line for a simple reply; several for a multi-line one (the first and last carry the code). */
  lines: string[];
}

export function reply(code: number, ...lines: string[]): FtpReply {
  return { code, lines: lines.length === 0 ? [''] : lines };
}

/** RFC 959 §4.2: the text lines of a reply, CRLF excluded. */
export function formatReply(r: FtpReply): string[] {
  const lines = r.lines.map(clean);
  if (lines.length === 1) return [`${r.code} ${lines[0]}`];
  const out: string[] = [`${r.code}-${lines[0]}`];
  for (let i = 1; i < lines.length - 1; i++) {
    const l = lines[i]!;
    // RFC 959 §4.2: a middle line beginning with digits must not look like the last line.
    out.push(/^\d/.test(l) ? ` ${l}` : l);
  }
  out.push(`${r.code} ${lines[lines.length - 1]}`);
  return out;
}

function clean(s: string): string {
  return /[\r\n]/.test(s) ? s.replace(/[\r\n]/g, '?') : s;
}

/** RFC 959 §4.1.3 / RFC 2640 §3.3: a path in a 257 reply, double quotes doubled. */
export function quotePath(p: string): string {
  return `"${p.replace(/"/g, '""')}"`;
}

// ---- fixed replies (RFC 959 §4.2.2 order) ------------------------------------------------------

export const C125DataOpen = reply(125, 'Data connection already open; transfer starting.');
export const C150Opening = reply(150, 'Opening data connection.');
export const C200Ok = reply(200, 'Command okay.');
export const C200NoopOk = reply(200, 'NOOP ok.');
export const C202NotImplementedSuperfluous = reply(202, 'Command not implemented, superfluous at this site.');
export const C211NoTransfer = reply(211, 'No transfer in progress.');
export const C215System = reply(215, 'UNIX Type: L8');
export const C220Ready = (host: string) => reply(220, `${host} FTP server (Wharf) ready.`);
export const C221Goodbye = reply(221, 'Goodbye.');
export const C225DataOpenNoTransfer = reply(225, 'Data connection open; no transfer in progress.');
export const C226Closing = reply(226, 'Transfer complete.');
export const C226AborOk = reply(226, 'ABOR command successful.');
export const C230LoggedIn = reply(230, 'User logged in, proceed.');
export const C230Anonymous = reply(230, 'Anonymous access granted, read-only.');
export const C234AuthTls = reply(234, 'AUTH TLS successful.');
export const C250Ok = reply(250, 'Requested file action okay, completed.');
export const C331NeedPassword = reply(331, 'User name okay, need password.');
export const C331AnonymousPassword = reply(331, 'Anonymous login okay, send your e-mail address as password.');
export const C350PendingRnto = reply(350, 'File exists, ready for destination name.');
export const C421Timeout = reply(421, 'Timeout: closing control connection.');
export const C421ShuttingDown = reply(421, 'Service shutting down, closing control connection.');
export const C421TooMany = reply(421, 'Too many connections, try later.');
export const C425CantOpen = reply(425, "Can't open data connection.");
export const C425UsePasvOrPort = reply(425, 'Use PORT, EPRT, PASV or EPSV first.');
export const C426Aborted = reply(426, 'Connection closed; transfer aborted.');
export const C431TlsUnavailable = reply(431, 'TLS is not available.');
export const C450Busy = reply(450, 'Requested file action not taken: file busy.');
export const C451LocalError = reply(451, 'Requested action aborted: local error in processing.');
export const C452NoSpace = reply(452, 'Requested action not taken: insufficient storage space.');
export const C500Syntax = reply(500, 'Syntax error, command unrecognized.');
export const C500LineTooLong = reply(500, 'Command line too long.');
export const C501Args = reply(501, 'Syntax error in parameters or arguments.');
export const C502NotImplemented = reply(502, 'Command not implemented.');
export const C503BadSequence = reply(503, 'Bad sequence of commands.');
export const C503LoginFirst = reply(503, 'Login with USER first.');
export const C504NotForParam = reply(504, 'Command not implemented for that parameter.');
export const C522NetworkProtocol = (families: string) => reply(522, `Network protocol not supported, use (${families})`);
export const C530NotLoggedIn = reply(530, 'Not logged in.');
export const C530LoginIncorrect = reply(530, 'Login incorrect.');
export const C530TlsRequired = reply(530, 'Use AUTH TLS first: cleartext logins are refused here.');
export const C532NeedAccount = reply(532, 'Need account for storing files.');
export const C533ProtRequired = reply(533, 'Command protection level denied for policy reasons.');
export const C534PolicyDenied = reply(534, 'Request denied for policy reasons.');
export const C536ProtNotSupported = reply(536, 'Requested PROT level not supported.');
export const C550NotFound = reply(550, 'Requested action not taken: file unavailable.');
export const C550NotPermitted = reply(550, 'Permission denied.');
export const C550ReadOnly = reply(550, 'Permission denied: read-only access.');
export const C550Exists = reply(550, 'File exists.');
export const C550NotDir = reply(550, 'Not a directory.');
export const C550NotFile = reply(550, 'Not a plain file.');
export const C550NotEmpty = reply(550, 'Directory not empty.');
export const C551PageType = reply(551, 'Requested action aborted: page type unknown.');
export const C552QuotaExceeded = reply(552, 'Requested file action aborted: quota exceeded.');
export const C553BadName = reply(553, 'Requested action not taken: file name not allowed.');
