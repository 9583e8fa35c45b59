// The DNS server's message handling, transport-free: bytes of one request and who sent it in,
// bytes of the response message(s) out (none = drop). udp.ts and tcp.ts move the bytes.
//
// Invariants
//  - Never throws and never answers a response (QR=1): reflection loops are impossible.
//  - Under 12 octets (no header) the packet is dropped; anything else that does not decode gets
//    a header-only FORMERR (RFC 1035 §4.1.1) with the id and opcode copied.
//  - A TSIG-signed request is verified before anything else (RFC 8945 §5.2); its response is
//    signed; BADKEY/BADSIG answers are unsigned, BADTIME answers signed.
//  - QUERY: answered from our zones (authoritative.ts); otherwise, with RD=1 from a client in
//    dns.recursion.allow and recursion on, by the resolver; otherwise REFUSED (RA clear when the
//    client may not recurse).
//  - AXFR/IXFR only over TCP, only to dns.secondaries or with a valid TSIG (RFC 5936 §6).
//  - UPDATE only with a valid TSIG (RFC 2136 §3.3 leaves the policy local; ours is TSIG only),
//    one update at a time per zone, written to the store before the answer.
//  - UDP responses fit 512 octets or the EDNS size (TC set when answer data was cut).
//  - Packet cache: an authoritative answer to a plain query (one question, no records but an
//    option-less OPT, no TSIG) is kept as bytes keyed by everything in the request after the id
//    (flags, counts, the question with its exact letter case, the OPT), the transport and
//    whether the client may recurse. A repeat is the cached bytes with the new id: the same
//    bytes the full path would build, since an authoritative answer depends only on the zones,
//    and the cache is dropped whenever the zone set is replaced (it is never mutated).
//  - Answers from the resolver (NOERROR/NXDOMAIN) are kept the same way until their smallest
//    TTL runs out, and every TTL in a repeat is lowered by the seconds since (what the
//    resolver's own cache would say), never with a TTL of 0. A hit is still a 'dns-trace'
//    event (outcome "cache") for whoever watches, like a hit in the resolver's cache.
import { answerQuery } from '../authoritative.js';
import type { AnswerOptions } from '../authoritative.js';
import { Zone } from '../authoritative.js';
import { describeError } from '../../core/errors.js';
import { Transcript } from '../../core/events.js';
import type { EventBus } from '../../core/events.js';
import type { Logger } from '../../core/logger.js';
import { formatPeer } from '../../core/net.js';
import { DnsWireError } from '../wire/errors.js';
import { decode, encode, MAX_MESSAGE } from '../wire/message.js';
import { maxUdpPayload, responseEdns } from '../wire/edns.js';
import { canonicalName } from '../wire/name.js';
import { OPCODE, RCODE, emptyFlags } from '../wire/types.js';
import type { Message } from '../wire/types.js';
import type { AddressList } from './acl.js';
import { transferMessages } from './axfr.js';
import { TSIG_ERROR, findTsig, signMessage, timeOther, tsigLength, verifyTsig } from './tsig.js';
import type { TsigKey, TsigRecord } from './tsig.js';
import { applyUpdate } from './update.js';
import type { ZoneRegistry } from './zones.js';
import type { ResourceRecord } from '../wire/types.js';

/** What the server needs of the resolver (src/dns/resolver/). */
export interface Recursor {
  answer(query: Message): Promise<Message>;
}

export interface Peer {
  address: string;
  port: number;
  transport: 'udp' | 'tcp';
}

export interface DnsServerOptions {
  zones: ZoneRegistry;
  logger: Logger;
  recursion?: { enabled: boolean; allow: AddressList; resolver?: Recursor | undefined };
  tsigKeys?: ReadonlyMap<string, TsigKey>;
  /** Whether a client address may AXFR without TSIG (dns.secondaries). */
  transferAllowed?: (address: string) => boolean;
  /** Persists an updated zone (store.putZone); the registry is updated by the server after. */
  saveZone?: (origin: string, records: ResourceRecord[]) => Promise<void>;
  /** Our advertised EDNS UDP size. */
  udpSize?: number;
  /** Largest message of a zone transfer (default axfr.ts). */
  transferMessageSize?: number;
  now?: () => number;
  /** Transcript events (C: the question, S: the outcome) when someone listens. */
  bus?: EventBus;
}

export interface DnsServerStats {
  queries: number;
  dropped: number;
  formerr: number;
  refused: number;
  recursive: number;
  transfers: number;
  updates: number;
  tsigFailures: number;
  truncated: number;
  errors: number;
}

interface Signing {
  key: TsigKey;
  requestMac: Buffer;
  tsig: TsigRecord;
}

/** Most responses the packet cache keeps; when full it starts again (no per-hit bookkeeping). */
const PACKET_CACHE_MAX = 20_000;

export class DnsServer {
  readonly stats: DnsServerStats = { queries: 0, dropped: 0, formerr: 0, refused: 0, recursive: 0, transfers: 0, updates: 0, tsigFailures: 0, truncated: 0, errors: 0 };
  private readonly updateLocks = new Map<string, Promise<unknown>>();
  private readonly packets = new Map<string, Buffer>();
  /** Recursive answers: bytes, where their TTLs are, and when they were stored. */
  private readonly recursivePackets = new Map<string, RecursivePacket>();
  private hits = 0;
  /** The zone set the cached packets were answered from. */
  private packetsFor: unknown = null;

  constructor(private readonly opts: DnsServerOptions) {}

  /** Responses held by the packet cache (for tests and the console). */
  get cachedPackets(): number {
    return this.packetsFor === this.opts.zones.set ? this.packets.size : 0;
  }

  /** Handles one request; resolves the response message(s) to send, [] to send nothing. */
  async handle(buf: Buffer, peer: Peer): Promise<Buffer[]> {
    try {
      const out = await this.process(buf, peer);
      if (this.opts.bus && this.opts.bus.listenerCount('transcript') > 0) this.transcript(buf, out, peer);
      return out;
    } catch (err) {
      this.stats.errors++;
      this.opts.logger.error('dns request failed', { client: peer.address, err: describeError(err) });
      try {
        return [headerOnly(buf, RCODE.SERVFAIL)];
      } catch {
        return [];
      }
    }
  }

  private async process(buf: Buffer, peer: Peer): Promise<Buffer[]> {
    this.stats.queries++;
    // RFC 1035 §4.1.1: no header, nothing to answer; QR=1 is a response, never answered.
    if (buf.length < 12 || (buf[2]! & 0x80) !== 0) {
      this.stats.dropped++;
      return [];
    }
    const key = this.packetKey(buf, peer);
    if (key !== null) {
      if (this.packetsFor !== this.opts.zones.set) {
        this.packets.clear();
        this.recursivePackets.clear(); // a new zone may now cover a name answered by recursion
        this.packetsFor = this.opts.zones.set;
      }
      const hit = this.packets.get(key);
      if (hit) {
        const out = Buffer.allocUnsafe(hit.length);
        hit.copy(out);
        out[0] = buf[0]!;
        out[1] = buf[1]!;
        return [out];
      }
      const rec = this.recursivePackets.get(key);
      if (rec) {
        const now = this.opts.now?.() ?? Date.now();
        if (now < rec.expires) {
          const out = Buffer.allocUnsafe(rec.buf.length);
          rec.buf.copy(out);
          out[0] = buf[0]!;
          out[1] = buf[1]!;
          const elapsed = Math.floor((now - rec.storedAt) / 1000);
          for (let j = 0; j < rec.ttlAt.length; j++) out.writeUInt32BE(Math.max(0, rec.ttls[j]! - elapsed), rec.ttlAt[j]!);
          this.stats.recursive++;
          if (this.tracing()) this.traceHit(buf, now, Math.min(...rec.ttls) - elapsed);
          return [out];
        }
        this.recursivePackets.delete(key);
      }
    }
    let query: Message;
    let tsig: TsigRecord | null;
    try {
      query = decode(buf);
      tsig = findTsig(buf);
    } catch (err) {
      if (!(err instanceof DnsWireError)) throw err;
      this.stats.formerr++;
      return [headerOnly(buf, RCODE.FORMERR)];
    }
    if (tsig) query.additionals = query.additionals.filter((r) => r.type.toUpperCase() !== 'TSIG');

    let signing: Signing | undefined;
    if (tsig) {
      const keys = this.opts.tsigKeys ?? new Map<string, TsigKey>();
      const nowSec = Math.floor((this.opts.now?.() ?? Date.now()) / 1000);
      let v;
      try {
        v = verifyTsig(buf, tsig, keys, nowSec);
      } catch (err) {
        if (!(err instanceof DnsWireError)) throw err;
        this.stats.formerr++;
        return [headerOnly(buf, RCODE.FORMERR)];
      }
      if (!v.ok) {
        this.stats.tsigFailures++;
        this.opts.logger.warn('TSIG verification failed', { client: peer.address, key: tsig.keyName, error: v.error });
        const res = this.encodeOne(reply(query, RCODE.NOTAUTH), peer, query);
        if (v.error === TSIG_ERROR.BADTIME && v.key) {
          // RFC 8945 §5.2.3: signed, the client's time, our time in Other Data.
          return [signMessage(res, { key: v.key, requestMac: tsig.mac, timeSigned: tsig.timeSigned, fudge: tsig.fudge, error: v.error, other: timeOther(nowSec) }).buf];
        }
        // §5.3.2: BADKEY/BADSIG are unsigned.
        const pseudo: TsigKey = { name: tsig.keyName, algorithm: tsig.algorithm, secret: Buffer.alloc(0) };
        return [signMessage(res, { key: pseudo, unsigned: true, timeSigned: tsig.timeSigned, fudge: tsig.fudge, error: v.error }).buf];
      }
      signing = { key: v.key, requestMac: tsig.mac, tsig };
    }

    const set = this.opts.zones.set;
    const served = { authoritative: false, recursive: false };
    const out = await this.dispatch(query, peer, signing, served);
    if (Array.isArray(out)) return out;
    const res = this.finish(out, peer, query, signing);
    if (key !== null && served.authoritative && !signing && set === this.opts.zones.set && this.packetsFor === set) {
      if (this.packets.size >= PACKET_CACHE_MAX) this.packets.clear();
      this.packets.set(key, Buffer.from(res));
    } else if (key !== null && served.recursive && !signing) {
      this.keepRecursive(key, res);
    }
    return [res];
  }

  /**
   * The packet-cache key of a plain query, or null when the request is not one: opcode QUERY,
   * exactly one question written without compression, no answer or authority records, at most
   * one additional record which is an OPT without options (RFC 6891 §6.1.2), nothing after it.
   */
  private packetKey(buf: Buffer, peer: Peer): string | null {
    if (((buf[2]! >> 3) & 0x0f) !== OPCODE.QUERY) return null;
    if (buf.readUInt16BE(4) !== 1 || buf.readUInt16BE(6) !== 0 || buf.readUInt16BE(8) !== 0) return null;
    const arcount = buf.readUInt16BE(10);
    if (arcount > 1) return null;
    let i = 12;
    for (;;) {
      if (i >= buf.length) return null;
      const len = buf[i]!;
      if (len === 0) break;
      if (len > 63) return null; // a compression pointer or a reserved label type
      i += 1 + len;
    }
    i += 1;
    if (i + 4 > buf.length) return null;
    const qtype = buf.readUInt16BE(i);
    if (qtype === 251 || qtype === 252) return null; // IXFR, AXFR
    i += 4;
    if (arcount === 1) {
      // root name, TYPE 41 (OPT), class, TTL, RDLENGTH 0
      if (i + 11 !== buf.length || buf[i] !== 0 || buf.readUInt16BE(i + 1) !== 41 || buf.readUInt16BE(i + 9) !== 0) return null;
    } else if (i !== buf.length) {
      return null;
    }
    const recursion = this.opts.recursion;
    const mayRecurse = !!recursion?.enabled && !!recursion.resolver && recursion.allow.has(peer.address);
    return (peer.transport === 'udp' ? 'u' : 't') + (mayRecurse ? 'r' : '-') + buf.toString('latin1', 2);
  }

  private tracing(): boolean {
    return !!this.opts.bus && this.opts.bus.listenerCount('dns-trace') > 0;
  }

  /** A recursive packet-cache hit, as the one-step resolution the console draws ("cache"). */
  private traceHit(req: Buffer, now: number, ttl: number): void {
    let q;
    try {
      q = decode(req).questions[0];
    } catch {
      return;
    }
    if (!q) return;
    this.opts.bus!.emit('dns-trace', { resolution: `p${++this.hits}`, step: 1, server: 'cache', qname: canonicalName(q.name), qtype: q.type, outcome: 'cache', detail: `answer, ttl ${ttl}`, at: now });
  }

  /** Keeps a recursive answer until its smallest TTL runs out (see the invariants). */
  private keepRecursive(key: string, res: Buffer): void {
    const rcode = res[3]! & 0x0f;
    if ((rcode !== RCODE.NOERROR && rcode !== RCODE.NXDOMAIN) || (res[2]! & 0x02) !== 0) return; // TC: not a whole answer
    const ttlAt = ttlOffsets(res);
    if (!ttlAt || ttlAt.length === 0) return;
    const ttls = ttlAt.map((o) => res.readUInt32BE(o));
    const min = Math.min(...ttls);
    if (min <= 0) return;
    if (this.recursivePackets.size >= PACKET_CACHE_MAX) this.recursivePackets.clear();
    const now = this.opts.now?.() ?? Date.now();
    this.recursivePackets.set(key, { buf: Buffer.from(res), ttlAt, ttls, storedAt: now, expires: now + min * 1000 });
  }

  private async dispatch(query: Message, peer: Peer, signing: Signing | undefined, served: { authoritative: boolean; recursive: boolean }): Promise<Message | Buffer[]> {
    const op = query.flags.opcode;
    if (op === OPCODE.UPDATE) return this.update(query, peer, signing);
    const mayRecurse = !!this.opts.recursion?.enabled && !!this.opts.recursion.resolver && this.opts.recursion.allow.has(peer.address);
    const answerOpts: AnswerOptions = { recursionAvailable: mayRecurse, ...(this.opts.udpSize ? { udpSize: this.opts.udpSize } : {}) };
    if (op === OPCODE.QUERY && query.questions.length === 1) {
      const qtype = query.questions[0]!.type.toUpperCase();
      if (qtype === 'AXFR' || qtype === 'IXFR') {
        const t = this.transfer(query, peer, signing);
        if (t) return t;
      }
    }
    const res = answerQuery(query, this.opts.zones.set, answerOpts);
    if (res) {
      served.authoritative = true;
      return res;
    }
    if (query.flags.qr) return []; // never reached (dropped earlier); kept for safety
    if (mayRecurse && query.flags.rd) {
      this.stats.recursive++;
      try {
        const r = await this.opts.recursion!.resolver!.answer(query);
        served.recursive = true;
        return { ...r, id: query.id, flags: { ...r.flags, qr: true, rd: query.flags.rd, ra: true } };
      } catch (err) {
        this.opts.logger.warn('recursion failed', { client: peer.address, err: describeError(err) });
        return reply(query, RCODE.SERVFAIL, true);
      }
    }
    this.stats.refused++;
    return reply(query, RCODE.REFUSED, mayRecurse);
  }

  /** AXFR/IXFR (RFC 5936, RFC 1995); undefined lets answerQuery refuse it. */
  private transfer(query: Message, peer: Peer, signing: Signing | undefined): Message | Buffer[] | undefined {
    const q = query.questions[0]!;
    const zone = this.opts.zones.get(q.name);
    const allowed = !!signing || !!this.opts.transferAllowed?.(peer.address);
    if (!zone || canonicalName(zone.origin) !== canonicalName(q.name)) {
      return this.opts.zones.set.find(q.name) ? reply(query, RCODE.NOTAUTH) : undefined;
    }
    if (!allowed) {
      this.stats.refused++;
      return reply(query, RCODE.REFUSED);
    }
    const ixfr = q.type.toUpperCase() === 'IXFR';
    if (peer.transport === 'udp') {
      // RFC 1995 §2: an IXFR over UDP that does not fit gets our SOA alone (go to TCP).
      if (!ixfr) return reply(query, RCODE.REFUSED); // RFC 5936 §4.2: AXFR is TCP only
      const r = reply(query, RCODE.NOERROR);
      r.flags.aa = true;
      r.answers.push(zone.records.find((x) => x.type.toUpperCase() === 'SOA')!);
      return r;
    }
    this.stats.transfers++;
    const budget = Math.min(this.opts.transferMessageSize ?? 16_384, MAX_MESSAGE - (signing ? tsigLength(signing.key) : 0));
    const msgs = transferMessages(query, zone.records, budget);
    const out: Buffer[] = [];
    let prior: Buffer | undefined;
    for (const m of msgs) {
      const buf = encode(m).buf;
      if (!signing) { out.push(buf); continue; }
      // RFC 8945 §5.3.1: the first signed as an answer, then prior MAC + message + timers.
      const s = prior ? signMessage(buf, { key: signing.key, priorMac: prior, fudge: signing.tsig.fudge }) : signMessage(buf, { key: signing.key, requestMac: signing.requestMac, fudge: signing.tsig.fudge });
      prior = s.mac;
      out.push(s.buf);
    }
    this.opts.logger.info('zone transfer', { zone: zone.origin, client: peer.address, messages: out.length, records: zone.records.length + 1, tsig: signing?.key.name ?? null });
    return out;
  }

  /** RFC 2136 UPDATE. */
  private async update(query: Message, peer: Peer, signing: Signing | undefined): Promise<Message> {
    const zoneQ = query.questions[0];
    const res: Message = {
      id: query.id,
      flags: emptyFlags({ qr: true, opcode: OPCODE.UPDATE, rcode: RCODE.NOERROR }),
      questions: query.questions.length === 1 ? [{ ...zoneQ! }] : [],
      answers: [], authorities: [], additionals: [],
    };
    const fail = (rcode: number): Message => ({ ...res, flags: { ...res.flags, rcode } });
    if (query.questions.length !== 1 || zoneQ!.type.toUpperCase() !== 'SOA') return fail(RCODE.FORMERR);
    const zone = this.opts.zones.get(zoneQ!.name);
    if (!zone) return fail(RCODE.NOTAUTH); // RFC 2136 §3.1.2
    if (!signing || !this.opts.saveZone) {
      this.stats.refused++;
      this.opts.logger.warn('unsigned UPDATE refused', { client: peer.address, zone: zone.origin });
      return fail(RCODE.REFUSED);
    }
    const k = canonicalName(zone.origin);
    const prev = this.updateLocks.get(k) ?? Promise.resolve();
    const run = prev.then(async (): Promise<number> => {
      const cur = this.opts.zones.get(k);
      if (!cur) return RCODE.NOTAUTH;
      const r = applyUpdate(query, cur.origin, cur.records);
      if (r.rcode !== RCODE.NOERROR || !r.records) return r.rcode;
      try {
        new Zone({ origin: cur.origin, records: r.records });
      } catch (err) {
        this.opts.logger.warn('UPDATE would make the zone invalid', { zone: cur.origin, err: describeError(err) });
        return RCODE.REFUSED;
      }
      await this.opts.saveZone!(cur.origin, r.records);
      this.opts.zones.replace(cur.origin, r.records);
      this.stats.updates++;
      this.opts.logger.info('zone updated', { zone: cur.origin, client: peer.address, key: signing.key.name });
      return RCODE.NOERROR;
    });
    const chained = run.catch(() => {});
    this.updateLocks.set(k, chained);
    try {
      return fail(await run);
    } finally {
      if (this.updateLocks.get(k) === chained) this.updateLocks.delete(k);
    }
  }

  private transcript(req: Buffer, out: Buffer[], peer: Peer): void {
    const t = new Transcript(this.opts.bus, 'dns', `dns-${peer.transport}-${this.stats.queries}`, formatPeer(peer.address, peer.port));
    const OPS = ['QUERY', 'IQUERY', 'STATUS', 'OP3', 'NOTIFY', 'UPDATE'];
    const RC = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];
    try {
      const q = decode(req);
      const qq = q.questions[0];
      t.client(`${OPS[q.flags.opcode] ?? `OP${q.flags.opcode}`} ${qq ? `${qq.name} ${qq.class} ${qq.type}` : '(no question)'}${q.flags.rd ? ' +rd' : ''} id=${q.id}`);
    } catch {
      t.client(`(${req.length} octets that do not decode)`);
    }
    if (out.length === 0) { t.note('dropped'); return; }
    // The outcome from the response header alone (RFC 1035 §4.1.1): no need to decode records.
    const r = out[0]!;
    if (r.length < 12) {
      t.server(`(${r.length} octets)`);
      return;
    }
    const rcode = r[3]! & 0x0f;
    const flags = [[r[2]! & 0x04, 'aa'], [r[2]! & 0x02, 'tc'], [r[2]! & 0x01, 'rd'], [r[3]! & 0x80, 'ra']].filter(([on]) => on).map(([, f]) => f).join(' ');
    t.server(`${RC[rcode] ?? `RCODE${rcode}`}${flags ? ' ' + flags : ''} answers=${r.readUInt16BE(6)} authority=${r.readUInt16BE(8)} additional=${r.readUInt16BE(10)}${out.length > 1 ? ` messages=${out.length}` : ''}`);
  }

  /** Encodes a response for the transport (UDP size limit) and signs it when asked. */
  private finish(res: Message, peer: Peer, query: Message, signing: Signing | undefined): Buffer {
    let max = peer.transport === 'udp' ? maxUdpPayload(query, this.opts.udpSize) : MAX_MESSAGE;
    if (signing) max -= tsigLength(signing.key);
    let enc;
    try {
      enc = encode(res, { maxSize: max });
    } catch (err) {
      this.stats.errors++;
      this.opts.logger.error('cannot encode response', { err: describeError(err) });
      enc = encode(reply(query, RCODE.SERVFAIL), { maxSize: max });
    }
    if (enc.truncated) this.stats.truncated++;
    if (!signing) return enc.buf;
    return signMessage(enc.buf, { key: signing.key, requestMac: signing.requestMac, fudge: signing.tsig.fudge }).buf;
  }

  private encodeOne(res: Message, peer: Peer, query: Message): Buffer {
    return encode(res, { maxSize: peer.transport === 'udp' ? maxUdpPayload(query) - 200 : MAX_MESSAGE - 512 }).buf;
  }
}

interface RecursivePacket {
  buf: Buffer;
  /** Offsets of the TTL field of every record but OPT. */
  ttlAt: number[];
  /** Their values when stored. */
  ttls: number[];
  storedAt: number;
  expires: number;
}

/** Skips a (possibly compressed) name at `i`; the offset after it, or -1. */
function skipName(buf: Buffer, i: number): number {
  for (;;) {
    if (i >= buf.length) return -1;
    const len = buf[i]!;
    if (len === 0) return i + 1;
    if ((len & 0xc0) === 0xc0) return i + 2 <= buf.length ? i + 2 : -1; // RFC 1035 §4.1.4
    if (len > 63) return -1;
    i += 1 + len;
  }
}

/** Offsets of the TTL fields of a message's records (OPT excluded), or null if it does not walk. */
export function ttlOffsets(buf: Buffer): number[] | null {
  if (buf.length < 12) return null;
  const qd = buf.readUInt16BE(4);
  const rr = buf.readUInt16BE(6) + buf.readUInt16BE(8) + buf.readUInt16BE(10);
  let i = 12;
  for (let n = 0; n < qd; n++) {
    i = skipName(buf, i);
    if (i < 0 || i + 4 > buf.length) return null;
    i += 4;
  }
  const out: number[] = [];
  for (let n = 0; n < rr; n++) {
    i = skipName(buf, i);
    if (i < 0 || i + 10 > buf.length) return null;
    const type = buf.readUInt16BE(i);
    if (type !== 41) out.push(i + 4); // OPT's "TTL" is the extended RCODE and flags (RFC 6891 §6.1.3)
    i += 10 + buf.readUInt16BE(i + 8);
    if (i > buf.length) return null;
  }
  return i === buf.length ? out : null;
}

/** A response with the question copied and no records. */
export function reply(query: Message, rcode: number, ra = false): Message {
  const m: Message = {
    id: query.id,
    flags: emptyFlags({ qr: true, opcode: query.flags.opcode, rd: query.flags.rd, cd: query.flags.cd, ra, rcode }),
    questions: query.questions.map((q) => ({ ...q })),
    answers: [], authorities: [], additionals: [],
  };
  const edns = responseEdns(query);
  if (edns) m.edns = edns;
  else if (rcode > 15) m.flags.rcode = RCODE.SERVFAIL;
  return m;
}

/** Header-only answer to a request we could not decode: id, opcode and RD copied. */
export function headerOnly(buf: Buffer, rcode: number): Buffer {
  const out = Buffer.alloc(12);
  out.writeUInt16BE(buf.readUInt16BE(0), 0);
  const opcode = (buf[2]! >> 3) & 0xf;
  const rd = buf[2]! & 1;
  out[2] = 0x80 | (opcode << 3) | rd;
  out[3] = rcode & 0xf;
  return out;
}
