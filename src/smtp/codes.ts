// SMTP replies as data (RFC 5321 §4.2): a three-digit code, an enhanced status code
// (RFC 3463, announced with ENHANCEDSTATUSCODES, RFC 2034) and a text. Handlers throw
// ReplyError(reply); the session writes it with formatReply.
//
// Invariants: a reply text never contains CR or LF (formatReply splits multi-line replies into
// lines itself); client-facing texts never carry configuration or stack traces.

export interface SmtpReply {
  code: number;
  /** RFC 3463 "class.subject.detail", e.g. "5.1.1"; absent for 220/221 greetings and 354. */
  enhanced?: string;
  /** One line, or several for a multi-line reply (RFC 5321 §4.2.1). */
  text: string | string[];
}

/** Reply with a substituted text (keeps code and enhanced code). */
export function withText(r: SmtpReply, text: string | string[]): SmtpReply {
  return { ...r, text };
}

/**
 * RFC 5321 §4.2.1: "code-text" for every line but the last, "code text" for the last. The
 * enhanced code is repeated on each line (RFC 2034 §4) when `enhanced` is true.
 */
export function formatReply(r: SmtpReply, enhanced = true): string[] {
  const lines = Array.isArray(r.text) ? r.text : [r.text];
  const prefix = enhanced && r.enhanced ? `${r.enhanced} ` : '';
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const sep = i === lines.length - 1 ? ' ' : '-';
    const text = (lines[i] ?? '').replace(/[\r\n]+/g, ' ');
    out.push(`${r.code}${sep}${prefix}${text}`);
  }
  if (out.length === 0) out.push(`${r.code} ${prefix}`.trimEnd());
  return out;
}

/** One line as an error string for logs and the queue ("550 5.1.1 No such user"). */
export function replyToString(r: SmtpReply): string {
  return formatReply(r).join(' / ');
}

export function isPositive(code: number): boolean {
  return code >= 200 && code < 400;
}
export function isTransient(code: number): boolean {
  return code >= 400 && code < 500;
}
export function isPermanent(code: number): boolean {
  return code >= 500 && code < 600;
}

const r = (code: number, enhanced: string | undefined, text: string): SmtpReply => (enhanced ? { code, enhanced, text } : { code, text });

// ---- 2xx / 3xx ------------------------------------------------------------------------------
export const C250Ok = r(250, '2.0.0', 'OK');
export const C250SenderOk = r(250, '2.1.0', 'Sender ok');
export const C250RecipientOk = r(250, '2.1.5', 'Recipient ok');
export const C250Accepted = r(250, '2.0.0', 'Message accepted for delivery');
export const C250Reset = r(250, '2.0.0', 'Reset state');
export const C250ChunkOk = r(250, '2.0.0', 'octets received');
export const C252CannotVerify = r(252, '2.1.5', 'Cannot VRFY user, but will accept message and attempt delivery');
export const C214Help = r(214, '2.0.0', 'Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH');
export const C220ReadyTls = r(220, '2.0.0', 'Ready to start TLS');
export const C235AuthOk = r(235, '2.7.0', 'Authentication successful');
export const C354StartData = r(354, undefined, 'Enter mail, end with "." on a line by itself');

// ---- 4xx ------------------------------------------------------------------------------------
export const C421TooMany = r(421, '4.7.0', 'Too many connections, try again later');
export const C421Timeout = r(421, '4.4.2', 'Idle timeout, closing connection');
export const C421ShuttingDown = r(421, '4.3.2', 'Service shutting down, closing connection');
export const C421TooManyErrors = r(421, '4.7.0', 'Too many errors, closing connection');
export const C451LocalError = r(451, '4.3.0', 'Local error in processing, try again later');
export const C452TooManyRecipients = r(452, '4.5.3', 'Too many recipients');
export const C454TlsUnavailable = r(454, '4.7.0', 'TLS not available');
export const C454AuthTemp = r(454, '4.7.0', 'Temporary authentication failure');

// ---- 5xx ------------------------------------------------------------------------------------
export const C500Unrecognized = r(500, '5.5.2', 'Command not recognized');
export const C500LineTooLong = r(500, '5.5.2', 'Line too long');
export const C500BadCharacters = r(500, '5.5.2', 'Command contains invalid characters');
export const C501Syntax = r(501, '5.5.4', 'Syntax error in parameters or arguments');
export const C501BadAddress = r(501, '5.1.3', 'Bad address syntax');
export const C501HeloRequiresDomain = r(501, '5.5.4', 'Syntax: HELO hostname');
export const C501AuthBase64 = r(501, '5.5.2', 'Cannot decode response');
export const C501AuthCancelled = r(501, '5.0.0', 'Authentication cancelled');
export const C502NotImplemented = r(502, '5.5.1', 'Command not implemented');
export const C503BadSequence = r(503, '5.5.1', 'Bad sequence of commands');
export const C503HeloFirst = r(503, '5.5.1', 'Send HELO/EHLO first');
export const C503NestedMail = r(503, '5.5.1', 'Nested MAIL command');
export const C503MailFirst = r(503, '5.5.1', 'Need MAIL command');
export const C503RcptFirst = r(503, '5.5.1', 'Need RCPT command');
export const C503AlreadyAuth = r(503, '5.5.1', 'Already authenticated');
export const C503DataAfterBdat = r(503, '5.5.1', 'DATA cannot be mixed with BDAT');
export const C503TlsActive = r(503, '5.5.1', 'TLS already active');
export const C504AuthMechanism = r(504, '5.5.4', 'Unrecognized authentication type');
export const C530AuthRequired = r(530, '5.7.0', 'Authentication required');
export const C530TlsRequired = r(530, '5.7.0', 'Must issue a STARTTLS command first');
export const C534AuthTooWeak = r(534, '5.7.9', 'Authentication mechanism is too weak');
export const C535AuthFailed = r(535, '5.7.8', 'Authentication credentials invalid');
export const C538EncryptionRequired = r(538, '5.7.11', 'Encryption required for requested authentication mechanism');
export const C550NoSuchUser = r(550, '5.1.1', 'No such user here');
export const C550MailboxUnavailable = r(550, '5.1.1', 'Mailbox unavailable');
export const C552MessageTooBig = r(552, '5.3.4', 'Message size exceeds fixed maximum message size');
export const C553SenderNotOwned = r(553, '5.7.1', 'Sender address rejected: not owned by user');
export const C553BadSender = r(553, '5.1.7', 'Bad sender address syntax');
export const C554RelayDenied = r(554, '5.7.1', 'Relay access denied');
export const C554NoValidRecipients = r(554, '5.5.1', 'No valid recipients');
export const C554TooManyHops = r(554, '5.4.6', 'Too many hops: mail loop detected');
export const C554NulInData = r(554, '5.6.0', 'Message contains NUL characters');
export const C555UnsupportedParam = r(555, '5.5.4', 'Unsupported parameter');
export const C553Utf8NeedsSmtputf8 = r(553, '5.6.7', 'Non-ASCII address requires SMTPUTF8');
