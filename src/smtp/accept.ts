// What happens to a message once its data is in: local recipients get it in their INBOX,
// remote recipients are queued (one job per destination domain) and the queue runner is woken.
// Also the helpers that build what a receiving hop writes ahead of the data: the Received trace
// field (RFC 5321 §4.4) and, on submission, Message-ID and Date when the message lacks them
// (RFC 6409 §8).
//
// Invariants: acceptMessage resolves only when every part (deliveries and the queue row) is
// durable; only then may the session say 250. Both parts are ONE store transaction
// (store.deliverAndEnqueue): a crash stores all of the message or none of it, so a client that
// lost the 250 and sends again never duplicates one half (RFC 5321 §6.1).
import { deliveryPrefix } from '../mail/deliver.js';
import { formatDate } from '../mail/message.js';
import type { MessageMeta } from '../mail/meta.js';
import type { NewMessage, NewQueueMessage } from '../store/store.js';
import type { Wharf } from '../wharf.js';
import { WharfError } from '../core/errors.js';
import type { MessageSink } from './message-sink.js';

export interface EnvelopeRecipient {
  address: string;
  /** A local mailbox (deliver now) or a remote one (queue). */
  local: boolean;
  notify: string[] | null;
  orcpt: string | null;
}

export interface AcceptedEnvelope {
  sender: string;
  recipients: EnvelopeRecipient[];
  envid: string | null;
  ret: 'FULL' | 'HDRS' | null;
}

export interface AcceptedBlob {
  blobId: string;
  size: number;
  meta: MessageMeta;
}

export interface AcceptResult {
  delivered: number;
  queueId: number | null;
  /** Local recipients that vanished between RCPT and DATA. */
  unknown: string[];
}

export async function acceptMessage(wharf: Wharf, env: AcceptedEnvelope, blob: AcceptedBlob): Promise<AcceptResult> {
  const store = wharf.store;
  const remote = env.recipients.filter((r) => !r.local);
  // Final delivery (as src/mail/deliver.ts deliverLocal): one copy per account, whether named
  // directly or through an alias, with Return-Path / Delivered-To in its headerPrefix.
  const items: { mailboxId: number; message: NewMessage }[] = [];
  const accountOf = new Map<number, number>(); // mailbox id -> account id, for 'mail-stored'
  const unknown: string[] = [];
  const seen = new Set<number>();
  for (const r of env.recipients) {
    if (!r.local) continue;
    const account = await store.resolveAddress(r.address);
    if (!account || account.disabled) {
      unknown.push(r.address);
      continue;
    }
    if (seen.has(account.id)) continue;
    seen.add(account.id);
    const inbox = await store.getMailbox(account.id, 'INBOX');
    if (!inbox) throw new WharfError('WHARF_NOT_FOUND', `the INBOX of ${account.address} is missing`);
    const headerPrefix = deliveryPrefix(env.sender, r.address);
    accountOf.set(inbox.id, account.id);
    items.push({ mailboxId: inbox.id, message: { blobId: blob.blobId, size: headerPrefix.length + blob.size, headerPrefix, meta: blob.meta } });
  }
  const queued: NewQueueMessage | null =
    remote.length === 0
      ? null
      : {
          sender: env.sender,
          blobId: blob.blobId,
          size: blob.size,
          envid: env.envid,
          ret: env.ret,
          recipients: remote.map((r) => ({ address: r.address, notify: r.notify, orcpt: r.orcpt })),
        };
  let delivered = 0;
  let queueId: number | null = null;
  if (items.length > 0 || queued) {
    const r = await store.deliverAndEnqueue(items, queued);
    delivered = r.delivered.length;
    queueId = r.queueId;
    for (const d of r.delivered) wharf.bus.emit('mail-stored', { accountId: accountOf.get(d.mailboxId) ?? 0, mailboxId: d.mailboxId, uid: d.uid });
  }
  if (queueId !== null) wharf.bus.emit('queue-kick', { id: queueId });
  if (unknown.length > 0) wharf.logger.warn('local recipients vanished before delivery', { unknown });
  return { delivered, queueId, unknown };
}

/** Is this domain one of ours? (A local domain is one the store knows.) */
export async function isLocalDomain(wharf: Wharf, domain: string): Promise<boolean> {
  if (domain === '') return false;
  return (await wharf.store.getDomain(domain.toLowerCase().replace(/\.$/, ''))) !== null;
}

// ---- Received ----------------------------------------------------------------------------------

export interface ReceivedInfo {
  helo: string;
  remoteAddress: string;
  hostname: string;
  /** RFC 3848 / RFC 6531 §3.7.3 "with" keyword: SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA, UTF8SMTP… */
  protocol: string;
  id: string;
  /** Only when there is exactly one recipient (RFC 5321 §4.4: the FOR clause). */
  recipient?: string;
  tls?: string;
  date?: Date;
}

/** RFC 3848: the "with" keyword for the session. */
export function withProtocol(esmtp: boolean, tls: boolean, auth: boolean, utf8: boolean): string {
  if (!esmtp) return 'SMTP';
  const base = utf8 ? 'UTF8SMTP' : 'ESMTP';
  return base + (tls ? 'S' : '') + (auth ? 'A' : '');
}

/** The Received trace field (RFC 5321 §4.4 Time-stamp-line), folded, CRLF-terminated. */
export function receivedHeader(i: ReceivedInfo): string {
  const helo = i.helo.replace(/[^\x21-\x7e\u0080-\uffff]/g, '?').slice(0, 255) || 'unknown';
  const ip = i.remoteAddress.includes(':') ? `IPv6:${i.remoteAddress}` : i.remoteAddress;
  let s = `Received: from ${helo} ([${ip}])\r\n\tby ${i.hostname} (Wharf) with ${i.protocol}${i.tls ? ` (${i.tls})` : ''} id ${i.id}`;
  if (i.recipient && !/[\r\n]/.test(i.recipient)) s += `\r\n\tfor <${i.recipient}>`;
  s += `;\r\n\t${formatDate(i.date ?? new Date())}\r\n`;
  return s;
}

// ---- the writer in front of the sink -----------------------------------------------------------

/** Longest header block looked at for Message-ID/Date before giving up (the rest streams). */
const HEADER_SCAN_MAX = 256 * 1024;

/**
 * Writes `prefix` (trace fields) ahead of the message. The header block is held back until its
 * end (at most HEADER_SCAN_MAX) to count Received fields and, on submission, to add Message-ID /
 * Date when missing. Errors from the sink are kept, not
 * thrown, so the session can keep reading the client's data and answer afterwards.
 */
export class MessageWriter {
  private held: Buffer[] = [];
  private heldLen = 0;
  private scanning = true;
  private started = false;
  error: unknown = null;
  bytes = 0;
  /** Received fields in the message's header (RFC 5321 §6.3 loop detection). */
  hops = 0;

  constructor(
    private readonly sink: MessageSink,
    private readonly prefix: string,
    /** Called with the header block (latin1 text) when scanning; returns header lines to add. */
    private readonly addHeaders: ((headerText: string) => string) | null,
  ) {}

  private async put(b: Buffer): Promise<void> {
    if (this.error || b.length === 0) return;
    try {
      this.bytes += b.length;
      await this.sink.write(b);
    } catch (err) {
      this.error = err;
    }
  }

  private async start(extra: string): Promise<void> {
    this.started = true;
    await this.put(Buffer.from(this.prefix + extra, 'utf8'));
  }

  async write(chunk: Buffer): Promise<void> {
    if (!this.scanning) {
      if (!this.started) await this.start('');
      await this.put(chunk);
      return;
    }
    this.held.push(chunk);
    this.heldLen += chunk.length;
    const all = Buffer.concat(this.held);
    this.held = [all];
    // The header ends at the first empty line (or the data starts with one: no header).
    const end = all.subarray(0, 2).equals(Buffer.from('\r\n')) ? 0 : all.indexOf('\r\n\r\n');
    if (end >= 0 || this.heldLen > HEADER_SCAN_MAX) await this.flushHeld(end >= 0 ? end : this.heldLen);
  }

  private async flushHeld(headerLen: number): Promise<void> {
    this.scanning = false;
    const all = Buffer.concat(this.held);
    this.held = [];
    const text = all.subarray(0, headerLen).toString('latin1');
    this.hops = text.match(/^Received[ \t]*:/gim)?.length ?? 0;
    await this.start(this.addHeaders ? this.addHeaders(text) : '');
    await this.put(all);
  }

  /** Data complete: flushes what is held. */
  async end(): Promise<void> {
    if (this.scanning) await this.flushHeld(this.heldLen);
    else if (!this.started) await this.start('');
  }

  async commit(): Promise<AcceptedBlob> {
    if (this.error) throw this.error;
    return this.sink.commit();
  }

  async abort(): Promise<void> {
    this.held = [];
    try {
      await this.sink.abort();
    } catch {
      // nothing more to do
    }
  }
}

/** Submission (RFC 6409 §8.2/§8.3): the Message-ID and Date lines to add to this header, if any. */
export function missingHeaders(headerText: string, messageId: () => string, now = new Date()): string {
  let out = '';
  if (!/^message-id[ \t]*:/im.test(headerText)) out += `Message-ID: ${messageId()}\r\n`;
  if (!/^date[ \t]*:/im.test(headerText)) out += `Date: ${formatDate(now)}\r\n`;
  return out;
}

export function assertNoCrLf(s: string): void {
  if (/[\r\n]/.test(s)) throw new WharfError('WHARF_INVALID', 'CR or LF in a header value');
}
