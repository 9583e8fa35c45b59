// Errors. Two kinds, never mixed:
//  - WharfError: a program error with a stable machine-readable `code` ('WHARF_CONFIG_INVALID').
//  - ReplyError: a protocol answer. A command handler throws it; the session loop catches it once
//    per command and writes `reply` to the client. It is not a failure of the server.
// Anything else thrown inside a session is a bug or an I/O failure: the session logs it with
// context and answers with the protocol's generic temporary error, never with the error text.

export class WharfError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: string, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WharfError';
    this.code = code;
    this.details = details;
  }
}

/** A reply value of any line protocol (SMTP/FTP numeric, POP3 +OK/-ERR, IMAP tagged). */
export class ReplyError<R = unknown> extends Error {
  readonly reply: R;
  constructor(reply: R, message?: string) {
    super(message ?? (typeof reply === 'object' && reply !== null && 'text' in reply ? String((reply as { text: unknown }).text) : 'protocol error'));
    this.name = 'ReplyError';
    this.reply = reply;
  }
}

export function isWharfError(err: unknown, code?: string): err is WharfError {
  return err instanceof WharfError && (code === undefined || err.code === code);
}

/** A short, safe description of an unknown thrown value for logs (never for clients). */
export function describeError(err: unknown): { message: string; code?: string; stack?: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { message: err.message, ...(typeof code === 'string' ? { code } : {}), ...(err.stack ? { stack: err.stack } : {}) };
  }
  return { message: String(err) };
}
