// Mailbox and message views of the admin API, read from the store: the message list from the
// rows and their stored metadata (src/mail/meta.ts), the MIME tree from the metadata as IMAP's
// BODYSTRUCTURE reads it (no re-parse), the header fields from the header octets only. The raw
// source is streamed (memory stays flat) by the route, not here.
import { parseHeaderFields } from '../mail/message.js';
import { messageChunks } from '../mail/mailbox.js';
import { messageMeta } from '../mail/meta.js';
import type { BodyPart, MessageMeta } from '../mail/meta.js';
import type { Store, StoredMessage } from '../store/store.js';
import { HttpError } from './http.js';

/** Metadata of a stored message; re-parsed when missing or of an older shape. */
async function metaOf(store: Store, m: StoredMessage): Promise<MessageMeta> {
  const meta = m.meta as MessageMeta | null;
  if (meta && meta.version === 1 && meta.body) return meta;
  return messageMeta(await store.blobs.get(m.blobId));
}

export async function listMailboxes(store: Store, user: unknown): Promise<unknown[]> {
  if (typeof user !== 'string' || !user) throw new HttpError(400, 'give ?user=ADDRESS');
  const account = await store.getAccount(user);
  if (!account) throw new HttpError(404, `no account ${user}`);
  const boxes = await store.listMailboxes(account.id);
  const out = [];
  for (const b of boxes) {
    const st = await store.mailboxStatus(b.id);
    out.push({ id: b.id, name: b.name, specialUse: b.specialUse, messages: st.messages, unseen: st.unseen, uidNext: st.uidNext, size: st.size });
  }
  return out;
}

async function mailbox(store: Store, id: string) {
  const n = Number(id);
  const box = Number.isSafeInteger(n) && n > 0 ? await store.getMailboxById(n) : null;
  if (!box) throw new HttpError(404, `no mailbox ${id}`);
  return box;
}

/** Newest first: offset 0 is the highest UID. */
export async function listMessages(store: Store, id: string, offset: number, limit: number): Promise<unknown> {
  const box = await mailbox(store, id);
  const all = await store.listMessages(box.id);
  const page = all.slice().reverse().slice(offset, offset + limit);
  const rows = await store.getMessages(box.id, page.map((m) => m.uid));
  const byUid = new Map(rows.map((r) => [r.uid, r]));
  const messages = [];
  for (const s of page) {
    const r = byUid.get(s.uid);
    const meta = r ? await metaOf(store, r) : null;
    messages.push({
      uid: s.uid,
      from: meta?.decoded.from ?? '',
      subject: meta?.decoded.subject ?? '',
      date: new Date(meta?.dateMs ?? s.internalDate.getTime()).toISOString(),
      size: s.size,
      flags: s.flags,
    });
  }
  return { total: all.length, messages };
}

async function message(store: Store, id: string, uidText: string): Promise<StoredMessage> {
  const box = await mailbox(store, id);
  const uid = Number(uidText);
  const [m] = Number.isSafeInteger(uid) && uid > 0 ? await store.getMessages(box.id, [uid]) : [];
  if (!m) throw new HttpError(404, `no message ${uidText} in mailbox ${id}`);
  return m;
}

interface MimeView {
  type: string;
  subtype: string;
  params: Record<string, string>;
  encoding: string;
  size: number;
  lines?: number;
  filename?: string;
  disposition?: string;
  description?: string;
  parts: MimeView[];
}

function mimeView(p: BodyPart, depth = 0): MimeView {
  const v: MimeView = { type: p.type, subtype: p.subtype, params: p.params, encoding: p.encoding, size: p.bodyEnd - p.bodyStart, parts: [] };
  if (p.type === 'text' || (p.type === 'message' && p.message)) v.lines = p.lines;
  const filename = p.disposition?.params.filename ?? p.params.name;
  if (filename !== undefined) v.filename = filename;
  if (p.disposition) v.disposition = p.disposition.type;
  if (p.description) v.description = p.description;
  if (depth < 32) {
    if (p.parts) v.parts = p.parts.map((c) => mimeView(c, depth + 1));
    else if (p.message) v.parts = [mimeView(p.message.body, depth + 1)];
  }
  return v;
}

export async function showMessage(store: Store, id: string, uid: string): Promise<unknown> {
  const m = await message(store, id, uid);
  const meta = await metaOf(store, m);
  const head: Buffer[] = [];
  for await (const c of messageChunks(store.blobs, m, 0, m.headerPrefix.length + meta.headerEnd)) head.push(c);
  const headers = parseHeaderFields(Buffer.concat(head)).map((f) => [f.name, f.value]);
  return { uid: m.uid, flags: m.flags, size: m.size, internalDate: m.internalDate.toISOString(), headers, mime: mimeView(meta.body) };
}

export async function rawMessage(store: Store, id: string, uid: string): Promise<StoredMessage> {
  return message(store, id, uid);
}
