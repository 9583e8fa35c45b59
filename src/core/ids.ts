// Identifiers an instance hands out: session ids for transcripts ("pop3-17"), unique tokens for
// Message-IDs and queue ids. Per instance (no module state), so two instances in one process
// number their sessions independently.
import { randomBytes } from 'node:crypto';

export class IdGenerator {
  private readonly counters = new Map<string, number>();

  /** "pop3-1", "pop3-2", … per prefix. */
  next(prefix: string): string {
    const n = (this.counters.get(prefix) ?? 0) + 1;
    this.counters.set(prefix, n);
    return `${prefix}-${n}`;
  }

  /** A random token, base36, for Message-IDs and file names (no guessable sequence). */
  token(bytes = 12): string {
    return BigInt(`0x${randomBytes(bytes).toString('hex')}`).toString(36);
  }

  /** An RFC 5322 §3.6.4 msg-id: "<time.token@host>". */
  messageId(host: string): string {
    return `<${Date.now().toString(36)}.${this.token(9)}@${host}>`;
  }
}
