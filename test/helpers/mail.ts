// Puts messages into mailboxes for tests, the way final delivery does (blob + metadata +
// Return-Path/Delivered-To), without going through SMTP.
import { deliverLocal } from '../../src/mail/deliver.js';
import { ingestBuffer } from '../../src/mail/ingest.js';
import { readMessage } from '../../src/mail/mailbox.js';
import type { Mailbox } from '../../src/store/store.js';
import type { Wharf } from '../../src/wharf.js';

/** Delivers `raw` (LF or CRLF line ends) to each recipient's INBOX; returns the UIDs. */
export async function deliverRaw(wharf: Wharf, to: string | string[], raw: string | Buffer, sender = 'alice@crepes.fr'): Promise<number[]> {
  const stored = await ingestBuffer(wharf.store.blobs, Buffer.isBuffer(raw) ? raw : Buffer.from(raw, 'utf8'));
  const r = await deliverLocal(wharf.store, { sender, blobId: stored.blobId, size: stored.size, meta: stored.meta }, Array.isArray(to) ? to : [to]);
  if (r.unknown.length) throw new Error(`unknown recipients: ${r.unknown.join(', ')}`);
  return r.delivered.map((d) => d.uid);
}

/** A small RFC 5322 message. */
export function sampleMessage(subject: string, body: string, from = 'alice@crepes.fr', to = 'bob@hamburger.edu'): string {
  return `From: ${from}\r\nTo: ${to}\r\nSubject: ${subject}\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <${subject.replace(/\W/g, '')}@crepes.fr>\r\n\r\n${body}`;
}

/** Every message of an address's INBOX as text (headerPrefix and blob), in UID order. */
export async function inboxMessages(wharf: Wharf, address: string): Promise<string[]> {
  const store = wharf.store;
  const box = await inboxOf(wharf, address);
  const list = await store.listMessages(box.id);
  const msgs = await store.getMessages(box.id, list.map((m) => m.uid));
  const out: string[] = [];
  for (const m of msgs) out.push((await readMessage(store.blobs, m)).toString('utf8'));
  return out;
}

/** The UIDs in an address's INBOX, ascending. */
export async function inboxUids(wharf: Wharf, address: string): Promise<number[]> {
  return (await wharf.store.listMessages((await inboxOf(wharf, address)).id)).map((m) => m.uid);
}

async function inboxOf(wharf: Wharf, address: string): Promise<Mailbox> {
  const acc = await wharf.store.getAccount(address);
  const box = acc && (await wharf.store.getMailbox(acc.id, 'INBOX'));
  if (!box) throw new Error(`no INBOX for ${address}`);
  return box;
}

/** Polls fn every 50 ms until it gives something truthy; fails after ms. */
export async function waitFor<T>(fn: () => Promise<T | null | undefined | false>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}
