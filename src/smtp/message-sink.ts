// Where a received message goes while it arrives: the mail module's ingest sink
// (src/mail/ingest.ts: streams into the blob store, normalises line ends, computes MessageMeta).
// Invariants (from ingest): abort() never leaves a blob behind; commit() resolves only when the
// blob is durable, and throws WHARF_TOO_BIG past maxSize.
import { createMessageSink } from '../mail/ingest.js';
import type { MessageSink } from '../mail/ingest.js';
import type { BlobStore } from '../store/store.js';

export type { MessageSink };

export async function openMessageSink(blobs: BlobStore, maxSize: number): Promise<MessageSink> {
  return createMessageSink(blobs, { maxSize });
}
