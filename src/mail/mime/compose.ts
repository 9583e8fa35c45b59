// Composing messages: plain text, text + HTML alternatives, attachments (RFC 2045, RFC 2046,
// RFC 2183, RFC 2231 for non-ASCII file names, RFC 2047 for non-ASCII header text), and
// delivery status notifications (RFC 3464 multipart/report, RFC 6522, RFC 3834 Auto-Submitted).
// Invariants: output has CRLF line ends only; no line is longer than 998 octets (RFC 5322 §2.1.1:
// long text goes quoted-printable, binary base64); boundaries never occur in the content.
import { randomBytes } from 'node:crypto';
import { formatAddress, formatDate, makeMessageId } from '../message.js';
import type { Address } from '../message.js';
import { encodeWords } from './encoded-words.js';
import { formatParams } from './params.js';
import { encodeBase64, encodeQP } from './qp.js';

export interface Attachment {
  filename?: string;
  /** Default application/octet-stream. */
  contentType?: string;
  content: Buffer | string;
  /** Default "attachment". */
  disposition?: 'attachment' | 'inline';
  contentId?: string;
}

export interface ComposeOptions {
  from: string | Address;
  to?: string | Address | (string | Address)[];
  cc?: string | Address | (string | Address)[];
  subject?: string;
  /** Default now. */
  date?: Date;
  /** Default generated with the hostname of `from`. */
  messageId?: string;
  text?: string;
  html?: string;
  attachments?: Attachment[];
  /** Extra header fields, added after the standard ones (values folded as given). */
  headers?: Record<string, string> | [string, string][];
}

const CRLF = '\r\n';

function addr(a: string | Address): string {
  return typeof a === 'string' ? a : formatAddress(a);
}

function addrList(v: string | Address | (string | Address)[]): string {
  return (Array.isArray(v) ? v : [v]).map(addr).join(',\r\n ');
}

function newBoundary(): string {
  // "=_" cannot appear in base64 or quoted-printable output (RFC 2045 §6.7 encodes "=").
  return `=_wharf_${randomBytes(12).toString('hex')}`;
}

interface Entity {
  headers: [string, string][];
  body: Buffer;
}

/** Text content: 7bit when plain short ASCII lines, else quoted-printable (UTF-8). */
function textEntity(text: string, subtype: string): Entity {
  const normalized = text.replace(/\r\n|\r|\n/g, '\r\n');
  const ascii = /^[\x00-\x7f]*$/.test(normalized) && !/\0/.test(normalized);
  const shortLines = normalized.split('\r\n').every((l) => l.length <= 998);
  // RFC 5322 §2.1.1 line limits; RFC 2045 §2.7 7bit data.
  if (ascii && shortLines) {
    return { headers: [['Content-Type', `text/${subtype}; charset=us-ascii`], ['Content-Transfer-Encoding', '7bit']], body: Buffer.from(normalized, 'latin1') };
  }
  return {
    headers: [['Content-Type', `text/${subtype}; charset=utf-8`], ['Content-Transfer-Encoding', 'quoted-printable']],
    body: Buffer.from(encodeQP(Buffer.from(normalized, 'utf8')), 'latin1'),
  };
}

function attachmentEntity(a: Attachment): Entity {
  const ct = a.contentType ?? 'application/octet-stream';
  const params: Record<string, string> = {};
  if (a.filename) params['filename'] = a.filename;
  const content = typeof a.content === 'string' ? Buffer.from(a.content, 'utf8') : a.content;
  const headers: [string, string][] = [];
  const [type] = ct.toLowerCase().split('/');
  if (type === 'message' || ct.toLowerCase().startsWith('text/rfc822-headers')) {
    // RFC 2046 §5.2.1: message/* is never base64; 8bit when it has 8-bit octets.
    headers.push(['Content-Type', ct], ['Content-Transfer-Encoding', /[^\x00-\x7f]/.test(content.toString('latin1')) ? '8bit' : '7bit']);
    if (a.filename || a.disposition) headers.push(['Content-Disposition', (a.disposition ?? 'attachment') + formatParams(params)]);
    return { headers, body: content };
  }
  const ctParams = a.filename && !/;\s*name=/i.test(ct) ? formatParams({ name: a.filename }) : '';
  headers.push(['Content-Type', ct + ctParams], ['Content-Transfer-Encoding', 'base64'], ['Content-Disposition', (a.disposition ?? 'attachment') + formatParams(params)]);
  if (a.contentId) headers.push(['Content-ID', a.contentId.startsWith('<') ? a.contentId : `<${a.contentId}>`]);
  return { headers, body: Buffer.from(encodeBase64(content), 'latin1') };
}

function multipart(subtype: string, parts: Entity[], extraParams: Record<string, string> = {}): Entity {
  let boundary = newBoundary();
  while (parts.some((p) => p.body.includes(boundary))) boundary = newBoundary();
  const chunks: Buffer[] = [];
  for (const p of parts) {
    chunks.push(Buffer.from(`--${boundary}${CRLF}${formatFields(p.headers)}${CRLF}`, 'utf8'), p.body, Buffer.from(CRLF));
  }
  chunks.push(Buffer.from(`--${boundary}--${CRLF}`));
  return { headers: [['Content-Type', `multipart/${subtype}${formatParams({ ...extraParams, boundary })}`]], body: Buffer.concat(chunks) };
}

/** Folds one header field at spaces so lines stay near 78 characters (RFC 5322 §2.2.3). */
export function foldField(name: string, value: string): string {
  const line = `${name}: ${value}`;
  if (line.length <= 78 || value.includes('\r\n')) return line + CRLF;
  let out = '';
  let cur = '';
  for (const word of line.split(' ')) {
    if (cur && cur.length + 1 + word.length > 78) {
      out += cur + CRLF;
      cur = ' ' + word;
    } else cur = cur ? `${cur} ${word}` : word;
  }
  return out + cur + CRLF;
}

function formatFields(fields: [string, string][]): string {
  return fields.map(([n, v]) => foldField(n, v)).join('');
}

function domainOf(from: string | Address): string {
  const s = typeof from === 'string' ? from : from.address;
  const m = /@([^>\s]+)/.exec(s);
  return m ? m[1]! : 'localhost';
}

/** A complete RFC 5322 message with MIME structure as needed. */
export function composeMessage(o: ComposeOptions): Buffer {
  const parts: Entity[] = [];
  let main: Entity;
  const text = o.text ?? (o.html === undefined ? '' : undefined);
  if (text !== undefined && o.html !== undefined) main = multipart('alternative', [textEntity(text, 'plain'), textEntity(o.html, 'html')]);
  else if (o.html !== undefined) main = textEntity(o.html, 'html');
  else main = textEntity(text ?? '', 'plain');
  if (o.attachments?.length) {
    parts.push(main, ...o.attachments.map(attachmentEntity));
    main = multipart('mixed', parts);
  }
  return buildMessage(o, main);
}

function buildMessage(o: ComposeOptions, main: Entity): Buffer {
  const fields: [string, string][] = [];
  fields.push(['From', addr(o.from)]);
  if (o.to !== undefined && (!Array.isArray(o.to) || o.to.length)) fields.push(['To', addrList(o.to)]);
  if (o.cc !== undefined && (!Array.isArray(o.cc) || o.cc.length)) fields.push(['Cc', addrList(o.cc)]);
  if (o.subject !== undefined) fields.push(['Subject', encodeWords(o.subject)]);
  fields.push(['Date', formatDate(o.date ?? new Date())]);
  fields.push(['Message-ID', o.messageId ?? makeMessageId(domainOf(o.from))]);
  const extra = o.headers ? (Array.isArray(o.headers) ? o.headers : Object.entries(o.headers)) : [];
  for (const [n, v] of extra) {
    if (/[\r\n]/.test(n) || /[\r\n](?![ \t])/.test(v)) throw new TypeError(`header ${n} contains a line break`);
    fields.push([n, v]);
  }
  fields.push(['MIME-Version', '1.0']);
  fields.push(...main.headers);
  return Buffer.concat([Buffer.from(formatFields(fields) + CRLF, 'utf8'), main.body]);
}

// ---- delivery status notifications (RFC 3464) ---------------------------------------------

export interface DsnRecipient {
  /** The address the reporting MTA tried ("bob@example.org"); written as "rfc822; bob@…". */
  finalRecipient: string;
  /** DSN ORCPT value as received ("rfc822;bob@example.org"), if any. */
  originalRecipient?: string | null;
  /** RFC 3464 §2.3.3. */
  action: 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded';
  /** Enhanced status code, RFC 3463 ("5.1.1"). */
  status: string;
  /** SMTP reply, e.g. "550 5.1.1 no such user"; written as "smtp; …". */
  diagnostic?: string | null;
  /** The host that answered; written as "dns; …". */
  remoteMta?: string | null;
  lastAttemptDate?: Date | null;
  willRetryUntil?: Date | null;
}

export interface DsnOptions {
  reportingMta: string;
  arrivalDate?: Date | null;
  originalEnvelopeId?: string | null;
  recipients: DsnRecipient[];
  humanText: string;
  /** The original message (CRLF), as received. */
  original: Buffer;
  /** RET=HDRS (RFC 3461 §4.3): only the header is returned, as text/rfc822-headers. */
  returnHeadersOnly?: boolean;
  /** Default "Mail Delivery System <MAILER-DAEMON@reportingMta>". */
  from?: string | Address;
  /** The original envelope sender. */
  to?: string | Address;
  subject?: string;
  date?: Date;
  messageId?: string;
}

function xtextSafe(s: string): string {
  return s.replace(/[\r\n]+/g, ' ');
}

/** The message/delivery-status body (RFC 3464 §2.1–2.3). */
export function formatDeliveryStatus(o: Pick<DsnOptions, 'reportingMta' | 'arrivalDate' | 'originalEnvelopeId' | 'recipients'>): string {
  let s = '';
  if (o.originalEnvelopeId) s += `Original-Envelope-Id: ${xtextSafe(o.originalEnvelopeId)}${CRLF}`;
  s += `Reporting-MTA: dns; ${o.reportingMta}${CRLF}`;
  if (o.arrivalDate) s += `Arrival-Date: ${formatDate(o.arrivalDate)}${CRLF}`;
  for (const r of o.recipients) {
    s += CRLF;
    if (r.originalRecipient) s += `Original-Recipient: ${xtextSafe(r.originalRecipient.includes(';') ? r.originalRecipient : `rfc822; ${r.originalRecipient}`)}${CRLF}`;
    s += `Final-Recipient: rfc822; ${xtextSafe(r.finalRecipient)}${CRLF}`;
    s += `Action: ${r.action}${CRLF}`;
    s += `Status: ${r.status}${CRLF}`;
    if (r.remoteMta) s += `Remote-MTA: dns; ${xtextSafe(r.remoteMta)}${CRLF}`;
    if (r.diagnostic) s += foldField('Diagnostic-Code', `smtp; ${xtextSafe(r.diagnostic)}`);
    if (r.lastAttemptDate) s += `Last-Attempt-Date: ${formatDate(r.lastAttemptDate)}${CRLF}`;
    if (r.willRetryUntil) s += `Will-Retry-Until: ${formatDate(r.willRetryUntil)}${CRLF}`;
  }
  return s;
}

/** The header block of a message (up to and including the blank line, or all of it). */
export function headerBlock(msg: Buffer): Buffer {
  const i = msg.indexOf('\r\n\r\n');
  const j = msg.indexOf('\n\n');
  if (i >= 0 && (j < 0 || i < j)) return msg.subarray(0, i + 4);
  if (j >= 0) return msg.subarray(0, j + 2);
  return msg;
}

/** A complete DSN: multipart/report; report-type=delivery-status (RFC 3464 §2, RFC 6522). */
export function composeDsn(o: DsnOptions): Buffer {
  const human = textEntity(o.humanText, 'plain');
  const status: Entity = {
    headers: [['Content-Type', 'message/delivery-status']],
    body: Buffer.from(formatDeliveryStatus(o), 'latin1'),
  };
  let original: Entity;
  if (o.returnHeadersOnly) {
    const h = headerBlock(o.original);
    original = attachmentEntity({ contentType: 'text/rfc822-headers', content: h });
  } else original = attachmentEntity({ contentType: 'message/rfc822', content: o.original });
  const report = multipart('report', [human, status, original], { 'report-type': 'delivery-status' });
  const failed = o.recipients.some((r) => r.action === 'failed');
  const delayed = o.recipients.some((r) => r.action === 'delayed');
  return buildMessage(
    {
      from: o.from ?? `Mail Delivery System <MAILER-DAEMON@${o.reportingMta}>`,
      ...(o.to !== undefined ? { to: o.to } : {}),
      subject: o.subject ?? (failed ? 'Undelivered Mail Returned to Sender' : delayed ? 'Delayed Mail (still being retried)' : 'Delivery Status Notification'),
      ...(o.date ? { date: o.date } : {}),
      messageId: o.messageId ?? makeMessageId(o.reportingMta),
      // RFC 3834 §5: automatic responses say so.
      headers: [['Auto-Submitted', 'auto-replied']],
    },
    report,
  );
}
