// Puts messages into mailboxes for tests, the way final delivery does (blob + metadata +
// Return-Path/Delivered-To), without going through SMTP.
import { deliverLocal } from '../../src/mail/deliver.js';
import { ingestBuffer } from '../../src/mail/ingest.js';
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
