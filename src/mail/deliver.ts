// Final delivery: one stored blob into the INBOX of each local recipient, in one store
// transaction (all recipients or none), with the per-recipient trace lines RFC 5321 §4.4 asks
// of the delivering server: `Return-Path` (the envelope sender) and `Delivered-To` (the address
// as given, which an alias may differ from). They go in the message's headerPrefix, so the
// blob is shared by every recipient.
//
// Used by SMTP (local recipients), `wharf deliver` (an MTA's mailbox command) and the lab.
import { WharfError } from '../core/errors.js';
import type { Account, NewMessage, Store } from '../store/store.js';
import type { MessageMeta } from './meta.js';

export interface LocalMessage {
  /** Envelope sender; "" for the null reverse-path (bounces). */
  sender: string;
  blobId: string;
  /** Octets of the blob. */
  size: number;
  meta: MessageMeta;
  internalDate?: Date;
}

export interface Delivered {
  /** The recipient as given. */
  address: string;
  account: Account;
  mailboxId: number;
  uid: number;
}

export interface DeliveryResult {
  delivered: Delivered[];
  /** Recipients that are not local accounts or aliases (nothing was stored for them). */
  unknown: string[];
}

/** RFC 5321 §4.4: Return-Path: <reverse-path>; Delivered-To as Postfix and Dovecot write it. */
export function deliveryPrefix(sender: string, recipient: string): Buffer {
  for (const v of [sender, recipient]) {
    if (/[\r\n\0]/.test(v)) throw new WharfError('WHARF_INVALID', 'an address contains CR, LF or NUL');
  }
  return Buffer.from(`Return-Path: <${sender}>\r\nDelivered-To: ${recipient}\r\n`, 'utf8');
}

/**
 * Stores the message in each known recipient's INBOX; an account named twice (directly or
 * through an alias) gets one copy. Resolves when durable.
 */
export async function deliverLocal(store: Store, msg: LocalMessage, recipients: readonly string[]): Promise<DeliveryResult> {
  const delivered: Omit<Delivered, 'mailboxId' | 'uid'>[] = [];
  const unknown: string[] = [];
  const seen = new Set<number>();
  const items: { mailboxId: number; message: NewMessage }[] = [];
  for (const address of recipients) {
    const account = await store.resolveAddress(address);
    if (!account || account.disabled) {
      unknown.push(address);
      continue;
    }
    if (seen.has(account.id)) continue;
    seen.add(account.id);
    const inbox = await store.getMailbox(account.id, 'INBOX');
    if (!inbox) throw new WharfError('WHARF_NOT_FOUND', `the INBOX of ${account.address} is missing`);
    const headerPrefix = deliveryPrefix(msg.sender, address);
    items.push({
      mailboxId: inbox.id,
      message: {
        blobId: msg.blobId,
        size: headerPrefix.length + msg.size,
        headerPrefix,
        meta: msg.meta,
        ...(msg.internalDate ? { internalDate: msg.internalDate } : {}),
      },
    });
    delivered.push({ address, account });
  }
  if (items.length === 0) return { delivered: [], unknown };
  const stored = await store.deliver(items);
  return {
    delivered: delivered.map((d, i) => ({ ...d, mailboxId: stored[i]!.mailboxId, uid: stored[i]!.uid })),
    unknown,
  };
}
