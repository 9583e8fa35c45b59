// What FETCH ENVELOPE and header SEARCH need per message, kept in memory across sessions (one
// cache per IMAP server, i.e. per Wharf instance and process), so that a client fetching the
// envelopes of a 10,000-message mailbox, or searching its subjects, does not make the store read
// and parse 10,000 rows of metadata (and SEARCH read 10,000 headers from the blob store) each time.
//
// Invariants
//  - a message's content never changes under (mailbox id, UIDVALIDITY, UID): UIDs are never
//    reused, and a re-created mailbox gets a new UIDVALIDITY (src/store/store.ts), so an entry
//    never goes stale; flags and MODSEQ are not cached here (the session's view has them);
//  - memory is bounded: at most maxEntries messages; the least recently used mailbox is dropped
//    whole when over the bound.
//
// It also keeps, per mailbox, the listing SELECT last read (every message's UID, flags, MODSEQ,
// size, date) with the MODSEQ it is complete up to: the next SELECT asks the store only what
// changed since then. A listing and its message objects are never changed once stored (a
// session copies them into its view); at most maxListed messages are kept over all listings.

/** Header fields whose decoded values SEARCH keeps here (RFC 3501 §6.4.4 FROM, TO, CC, BCC, SUBJECT). */
export const CACHED_SEARCH_FIELDS = new Set(['from', 'to', 'cc', 'bcc', 'subject']);

export interface CachedMessage {
  /** ENVELOPE as sent to a client without / with UTF-8 strings. */
  envelope?: string;
  envelopeUtf8?: string;
  /** Decoded, lower-cased values of CACHED_SEARCH_FIELDS, in header order. */
  searchFields?: { name: string; value: string }[];
}

/** One message of a listing. */
export interface ListedMessage {
  readonly uid: number;
  readonly flags: readonly string[];
  readonly modseq: number;
  readonly size: number;
  readonly internalDate: Date;
}

/** A mailbox's messages, ascending UID, complete for every change up to `modseq`. */
export interface Listing {
  readonly modseq: number;
  readonly msgs: readonly ListedMessage[];
}

export class MessageCache {
  private readonly boxes = new Map<string, Map<number, CachedMessage>>();
  private entries = 0;
  private readonly listings = new Map<string, Listing>();
  private listed = 0;

  constructor(
    readonly maxEntries = 50_000,
    readonly maxListed = 200_000,
  ) {}

  listing(mailboxId: number, uidValidity: number): Listing | undefined {
    return this.listings.get(`${mailboxId}/${uidValidity}`);
  }

  /** Keeps a listing (replacing the mailbox's previous one); drops the oldest over the bound. */
  setListing(mailboxId: number, uidValidity: number, l: Listing): void {
    const key = `${mailboxId}/${uidValidity}`;
    const old = this.listings.get(key);
    if (old) {
      this.listings.delete(key);
      this.listed -= old.msgs.length;
    }
    if (l.msgs.length > this.maxListed) return;
    this.listings.set(key, l);
    this.listed += l.msgs.length;
    while (this.listed > this.maxListed) {
      const [k, oldest] = this.listings.entries().next().value as [string, Listing];
      this.listings.delete(k);
      this.listed -= oldest.msgs.length;
    }
  }

  /** The entries of one mailbox; marks the mailbox most recently used. */
  mailbox(mailboxId: number, uidValidity: number): MailboxCache {
    const key = `${mailboxId}/${uidValidity}`;
    const m = this.boxes.get(key);
    if (m) {
      this.boxes.delete(key);
      this.boxes.set(key, m);
    }
    return new MailboxCache(this, key);
  }

  /** @internal */
  lookup(key: string, uid: number): CachedMessage | undefined {
    return this.boxes.get(key)?.get(uid);
  }

  /** @internal the entry, created (and counted, and the bound enforced) if missing. */
  entry(key: string, uid: number): CachedMessage {
    let m = this.boxes.get(key);
    if (!m) {
      m = new Map();
      this.boxes.set(key, m);
    }
    let e = m.get(uid);
    if (e) return e;
    e = {};
    m.set(uid, e);
    this.entries++;
    while (this.entries > this.maxEntries) {
      const [oldestKey, oldest] = this.boxes.entries().next().value as [string, Map<number, CachedMessage>];
      if (oldest === m) {
        // The mailbox being filled is the only one left: drop its oldest entries instead.
        const first = m.keys().next().value as number;
        if (first === uid) break;
        m.delete(first);
        this.entries--;
        continue;
      }
      this.boxes.delete(oldestKey);
      this.entries -= oldest.size;
    }
    return e;
  }

  get size(): number {
    return this.entries;
  }
}

/** One mailbox's view of the cache. */
export class MailboxCache {
  constructor(
    private readonly owner: MessageCache,
    private readonly key: string,
  ) {}

  get(uid: number): CachedMessage | undefined {
    return this.owner.lookup(this.key, uid);
  }

  entry(uid: number): CachedMessage {
    return this.owner.entry(this.key, uid);
  }
}
