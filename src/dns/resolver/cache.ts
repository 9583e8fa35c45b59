// The resolver's cache: RRsets by (name, type) for their TTL, negative answers (NXDOMAIN for a
// name, NODATA for a name and type) for the SOA's negative TTL (RFC 2308 §5), bounded by an LRU.
// Pure: the clock is injected.
//
// Invariants
//  - Keys are canonical (lower-case) names; stored owner names are canonical too.
//  - An RRset is stored with one TTL, the lowest of its members (RFC 2181 §5.2), and read back
//    with the TTL counted down to the seconds that remain; an entry whose time is up is gone.
//  - Credibility (RFC 2181 §5.4.1): data is ranked (glue < referral NS < authoritative answer);
//    an unexpired entry is never replaced by data of a lower rank.
//  - NXDOMAIN covers every type of the name; its TTL and NODATA's is min(SOA TTL, SOA MINIMUM)
//    (RFC 2308 §5), the SOA served with it counts down the same way.
//  - At most `maxEntries` entries; reading refreshes recency; the least recently used goes first.
//    maxEntries 0 disables caching.

import { canonicalName } from '../wire/name.js';
import type { ResourceRecord, SoaData } from '../wire/types.js';

export const Rank = {
  /** Additional-section data and glue (RFC 2181 §5.4.1: lowest). */
  glue: 1,
  /** NS RRsets from a referral's authority section. */
  referral: 2,
  /** Answers and negative answers from an authoritative server. */
  answer: 3,
} as const;
export type RankValue = (typeof Rank)[keyof typeof Rank];

/** Longest we keep anything (RFC 8767 suggests capping; a week is BIND's max-cache-ttl). */
export const MAX_CACHE_TTL = 7 * 24 * 3600;

interface RRsetEntry {
  kind: 'rrset';
  records: ResourceRecord[];
  rank: RankValue;
  stored: number;
  expires: number;
}

interface NegativeEntry {
  kind: 'nxdomain' | 'nodata';
  soa: ResourceRecord | undefined;
  rank: RankValue;
  stored: number;
  expires: number;
}

type Entry = RRsetEntry | NegativeEntry;

export type CacheHit =
  | { kind: 'rrset'; records: ResourceRecord[]; rank: RankValue }
  | { kind: 'nxdomain' | 'nodata'; soa: ResourceRecord | undefined };

const NX = 'NXDOMAIN';

function key(name: string, type: string): string {
  return `${canonicalName(name)} ${type.toUpperCase()}`;
}

/** Negative-answer TTL from an SOA record (RFC 2308 §5). */
export function negativeTtl(soa: ResourceRecord | undefined): number {
  if (!soa) return 0;
  const min = (soa.data as SoaData).minimum;
  return Math.min(soa.ttl, typeof min === 'number' ? min : soa.ttl);
}

export class DnsCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }

  private fetch(k: string): Entry | undefined {
    const e = this.entries.get(k);
    if (!e) return undefined;
    if (e.expires <= this.now()) {
      this.entries.delete(k);
      return undefined;
    }
    // LRU: move to the most recent end.
    this.entries.delete(k);
    this.entries.set(k, e);
    return e;
  }

  private put(k: string, e: Entry): void {
    if (this.maxEntries <= 0) return;
    const old = this.entries.get(k);
    if (old && old.expires > this.now() && old.rank > e.rank) return; // RFC 2181 §5.4.1
    this.entries.delete(k);
    this.entries.set(k, e);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  private remaining(e: Entry): number {
    return Math.max(0, Math.ceil((e.expires - this.now()) / 1000));
  }

  private countDown(records: ResourceRecord[], e: Entry): ResourceRecord[] {
    const ttl = this.remaining(e);
    return records.map((r) => ({ ...r, ttl }));
  }

  /** Stores an RRset (all records share name and type) ranked `rank`. */
  putRRset(records: ResourceRecord[], rank: RankValue): void {
    if (records.length === 0) return;
    const ttl = Math.min(MAX_CACHE_TTL, ...records.map((r) => r.ttl));
    if (ttl <= 0) return; // TTL 0: use once, never cache (RFC 1035 §3.2.1)
    const first = records[0]!;
    const now = this.now();
    const owner = canonicalName(first.name);
    this.put(key(owner, first.type), {
      kind: 'rrset',
      records: records.map((r) => ({ ...r, name: owner, type: r.type.toUpperCase(), ttl })),
      rank,
      stored: now,
      expires: now + ttl * 1000,
    });
  }

  /** Caches NXDOMAIN for `name` (every type) until the SOA's negative TTL runs out. */
  putNxdomain(name: string, soa: ResourceRecord | undefined): void {
    this.putNegative(key(name, NX), 'nxdomain', soa);
  }

  /** Caches NODATA for `name`/`type`. */
  putNodata(name: string, type: string, soa: ResourceRecord | undefined): void {
    this.putNegative(key(name, type), 'nodata', soa);
  }

  private putNegative(k: string, kind: 'nxdomain' | 'nodata', soa: ResourceRecord | undefined): void {
    const ttl = Math.min(MAX_CACHE_TTL, negativeTtl(soa));
    if (ttl <= 0) return; // RFC 2308 §5: without an SOA, negative answers are not cached
    const now = this.now();
    this.put(k, {
      kind,
      soa: soa ? { ...soa, name: canonicalName(soa.name), ttl } : undefined,
      rank: Rank.answer,
      stored: now,
      expires: now + ttl * 1000,
    });
  }

  /** The RRset of `type` at `name` with TTLs counted down, if cached with at least `minRank`. */
  getRRset(name: string, type: string, minRank: RankValue = Rank.glue): ResourceRecord[] | undefined {
    const e = this.fetch(key(name, type));
    if (!e || e.kind !== 'rrset' || e.rank < minRank) return undefined;
    return this.countDown(e.records, e);
  }

  /**
   * What the cache knows about `name`/`type` for a client: NXDOMAIN, NODATA or an authoritative
   * RRset (TTLs counted down). CNAMEs are asked for separately.
   */
  lookup(name: string, type: string): CacheHit | undefined {
    const nx = this.fetch(key(name, NX));
    if (nx && nx.kind === 'nxdomain') return { kind: 'nxdomain', soa: nx.soa ? this.countDown([nx.soa], nx)[0] : undefined };
    const e = this.fetch(key(name, type));
    if (!e) return undefined;
    if (e.kind === 'rrset') {
      if (e.rank < Rank.answer) return undefined;
      return { kind: 'rrset', records: this.countDown(e.records, e), rank: e.rank };
    }
    return { kind: e.kind, soa: e.soa ? this.countDown([e.soa], e)[0] : undefined };
  }
}
