// Delivery status notifications: an RFC 3464 DSN (multipart/report; report-type=delivery-status,
// RFC 6522) sent to the envelope sender when recipients fail permanently or expire in the queue
// (bounces), and, when asked with NOTIFY=SUCCESS (RFC 3461 §4.1), on final delivery
// ("delivered") or on relay to a server without DSN ("relayed").
//
// Rules (RFC 5321 §4.5.5, §6.1; RFC 3461 §4.1, §4.3):
//  - never for the null sender "<>" (a bounce is never bounced), and the DSN itself is sent
//    with the null sender;
//  - a recipient with NOTIFY=NEVER gets no report; one whose NOTIFY lacks FAILURE neither;
//  - RET=HDRS returns only the header of the message (text/rfc822-headers); RET=FULL or none
//    returns it whole (message/rfc822) unless it is large, then only the header; success and
//    delay reports return only the header.
import type { QueueMessage, QueueRecipient } from '../store/store.js';
import type { Wharf } from '../wharf.js';
import { ingestBuffer } from '../mail/ingest.js';
import { composeDsn } from '../mail/mime/compose.js';
import { acceptMessage, isLocalDomain } from './accept.js';
import { domainOf } from '../store/store.js';

/** Messages larger than this come back as headers only. */
const FULL_RETURN_MAX = 1024 * 1024;

export interface FailedRecipient {
  recipient: QueueRecipient;
  /** The reply or error that made it fail, "550 5.1.1 …". */
  reply: string;
  /** RFC 3464 §2.3.3 Action (default failed). */
  action?: 'failed' | 'delayed' | 'delivered' | 'relayed';
}

/** Whether this report was asked for (RFC 3461 §4.1: NOTIFY; default FAILURE only). */
export function wantsReport(sender: string, f: FailedRecipient): boolean {
  if (sender === '') return false;
  const action = f.action ?? 'failed';
  if (action === 'failed') return wantsFailureReport(sender, f.recipient);
  if (action === 'delayed') return !!f.recipient.notify?.includes('DELAY');
  return !!f.recipient.notify?.includes('SUCCESS');
}

/** Whether a DSN may be sent for this recipient (RFC 3461 §4.1: default is FAILURE). */
export function wantsFailureReport(sender: string, r: { notify: string[] | null }): boolean {
  if (sender === '') return false;
  if (!r.notify) return true;
  return r.notify.includes('FAILURE');
}

/** "550 5.1.1 text" → "5.1.1"; falls back to the class of the basic code (RFC 3463 §3.1). */
export function statusOf(reply: string): string {
  const m = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/.exec(reply);
  if (m) return `${m[1]}.${m[2]}.${m[3]}`;
  const c = /\b([245])\d\d\b/.exec(reply);
  return c ? `${c[1]}.0.0` : '5.0.0';
}

/** The diagnostic code of the remote reply without our "host said:" prefix. */
function diagnostic(reply: string): string {
  const m = /said: (.*)$/s.exec(reply);
  return (m ? m[1]! : reply).replace(/[\r\n]+/g, ' ');
}

export interface DsnInput {
  hostname: string;
  message: QueueMessage;
  failed: FailedRecipient[];
  remoteMta?: string | null;
  /** The original message (header only, or whole). */
  original: Buffer;
  headersOnly: boolean;
  now?: Date;
}

/** Composes the DSN message (CRLF line ends) with the mail module's composer. */
export function buildDsn(i: DsnInput): Buffer {
  const now = i.now ?? new Date();
  const failed = i.failed.some((f) => (f.action ?? 'failed') === 'failed');
  const delayed = i.failed.some((f) => f.action === 'delayed');
  let human = `This is the mail system at host ${i.hostname}.\r\n\r\n`;
  human += failed
    ? "I'm sorry to have to inform you that your message could not be delivered to one or more recipients.\r\n\r\n"
    : delayed
      ? 'Your message has not been delivered yet. It is still being retried.\r\n\r\n'
      : 'Your message was successfully delivered to the destination(s) listed below.\r\n\r\n';
  for (const f of i.failed) human += `<${f.recipient.address}>: ${f.reply.replace(/[\r\n]+/g, ' ')}\r\n`;
  return composeDsn({
    reportingMta: i.hostname,
    arrivalDate: i.message.createdAt,
    originalEnvelopeId: i.message.envid,
    recipients: i.failed.map((f) => ({
      finalRecipient: f.recipient.address,
      originalRecipient: f.recipient.orcpt,
      action: f.action ?? 'failed',
      status: statusOf(f.reply),
      diagnostic: diagnostic(f.reply),
      remoteMta: i.remoteMta && /said:/.test(f.reply) ? i.remoteMta : null,
      lastAttemptDate: now,
    })),
    humanText: human,
    original: i.original,
    returnHeadersOnly: i.headersOnly,
    to: `<${i.message.sender}>`,
    date: now,
  });
}

/** Reads what the DSN returns of the original: the whole message or its header. */
export async function originalFor(wharf: Wharf, m: QueueMessage, forceHeaders = false): Promise<{ data: Buffer; headersOnly: boolean }> {
  const headersOnly = forceHeaders || m.ret === 'HDRS' || m.size + m.headerPrefix.length > FULL_RETURN_MAX;
  if (!headersOnly) return { data: Buffer.concat([m.headerPrefix, await wharf.store.blobs.get(m.blobId)]), headersOnly };
  const start = await wharf.store.blobs.read(m.blobId, 0, Math.min(m.size, 256 * 1024));
  const end = start.indexOf('\r\n\r\n');
  return { data: Buffer.concat([m.headerPrefix, end >= 0 ? start.subarray(0, end + 2) : start]), headersOnly };
}

/**
 * Sends a DSN for these recipients to the message's sender (locally or through the queue with
 * the null sender). Recipients that asked for no report are left out; nothing is sent when none
 * is left or the sender is "<>". Resolves when the DSN is durable.
 */
export async function sendBounce(wharf: Wharf, m: QueueMessage, failed: FailedRecipient[], remoteMta: string | null): Promise<boolean> {
  const report = failed.filter((f) => wantsReport(m.sender, f));
  if (m.sender === '' || report.length === 0) return false;
  const { data, headersOnly } = await originalFor(wharf, m, report.every((f) => f.action && f.action !== 'failed'));
  const dsn = buildDsn({ hostname: wharf.config.hostname, message: m, failed: report, remoteMta, original: data, headersOnly });
  const blob = await ingestBuffer(wharf.store.blobs, dsn);
  const local = await isLocalDomain(wharf, domainOf(m.sender));
  await acceptMessage(wharf, { sender: '', recipients: [{ address: m.sender, local, notify: null, orcpt: null }], envid: null, ret: null }, blob);
  wharf.logger.info('delivery status notification sent', { queueId: m.id, to: m.sender, recipients: report.map((f) => f.recipient.address) });
  return true;
}
