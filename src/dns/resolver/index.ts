// The recursive resolver: iterative resolution from root hints (RFC 1034 §5.3.3), with a cache
// (RFC 2308 negative caching, LRU), bailiwick scrubbing, 0x20 and RFC 5452 answer matching, per-
// server RTT estimates, optional QNAME minimisation (RFC 9156), coalescing of identical
// in-flight resolutions and bounds on the work one resolution may cause. Every step is a
// 'dns-trace' event on the bus: the slides' iterated-query picture as data.
//
// Invariants
//  - A resolution never runs away: at most MAX_REFERRALS delegations followed per name,
//    MAX_CNAME_CHAIN CNAME links, MAX_QUERIES upstream queries in total (name-server address
//    look-ups included), MAX_NS_DEPTH nested look-ups of name-server addresses.
//  - At most maxOutstanding resolutions run at once; beyond that a resolution fails at once
//    with SERVFAIL (rate protection) instead of queueing without bound.
//  - Only data from authoritative answers is served to clients; referral NS and glue are used
//    for iteration only (RFC 2181 §5.4.1).
//  - Resolution results never throw: failures are SERVFAIL resolutions. mx()/addresses() turn
//    them into WharfErrors (src/dns/lookup.ts).

import { setMaxListeners } from 'node:events';
import net from 'node:net';
import { WharfError } from '../../core/errors.js';
import type { DnsTraceEvent, EventBus } from '../../core/events.js';
import type { Logger } from '../../core/logger.js';
import { DNS_ABORTED, DNS_TIMEOUT, query as clientQuery } from '../client.js';
import type { QueryOptions, QueryResult, ServerAddress } from '../client.js';
import { DnsLookupErrors } from '../lookup.js';
import type { DnsLookup, MxRecord } from '../lookup.js';
import { badVersResponse, responseEdns } from '../wire/edns.js';
import { canonicalName, isSubdomain, labelsToName, nameToLabels } from '../wire/name.js';
import { normalizeType, rdataTargetName } from '../wire/records.js';
import { OPCODE, RCODE, emptyFlags } from '../wire/types.js';
import type { Message, MxData, Question, ResourceRecord } from '../wire/types.js';
import { DnsCache, Rank } from './cache.js';
import { classify, groupRRsets, sanitize } from './response.js';
import type { Classified } from './response.js';

export { DnsCache, Rank } from './cache.js';

export interface ResolverOptions {
  /** Root servers, "address" or "address:port" (port defaults to upstreamPort). */
  rootHints: string[];
  /** Port asked on every server we are referred to. */
  upstreamPort: number;
  cacheSize: number;
  qnameMinimisation: boolean;
  maxOutstanding: number;
  /** Time to wait for one upstream answer before trying another server. */
  timeoutMs: number;
  bus?: EventBus;
  logger?: Logger;
}

/** Test hooks: a clock and a transport. */
export interface ResolverInternals {
  now?: () => number;
  query?: (server: ServerAddress, question: Question, opts: QueryOptions) => Promise<QueryResult>;
}

/** A trace step; `zone` is the zone the server was asked as an authority for (not on cache steps). */
export interface ResolverTraceEvent extends DnsTraceEvent {
  zone?: string;
}

export interface Resolution {
  rcode: number;
  /** The CNAME chain followed by the records of the asked type. */
  answers: ResourceRecord[];
  /** The SOA of a negative answer. */
  authority: ResourceRecord[];
  cnameChain: ResourceRecord[];
  /** No upstream query was needed. */
  fromCache: boolean;
  trace: ResolverTraceEvent[];
}

export const MAX_REFERRALS = 16;
export const MAX_CNAME_CHAIN = 12;
export const MAX_QUERIES = 48;
export const MAX_NS_DEPTH = 3;
/** RFC 9156 §2.3: MAX_MINIMISE_COUNT. */
export const MAX_MINIMISE = 10;
/** RTT estimates older than this are forgotten (Unbound's infra-host-ttl is 15 minutes). */
export const RTT_FORGET_MS = 15 * 60_000;
/** Addresses tried for one question before giving up on the zone. */
export const MAX_TRIES_PER_STEP = 6;

interface NsServer {
  /** NS host name, when known (not for root hints). */
  name?: string;
  addrs: ServerAddress[];
}

interface Work {
  id: string;
  trace: ResolverTraceEvent[];
  step: number;
  queries: number;
}

interface Ctx {
  work: Work;
  nsDepth: number;
}

type Outcome =
  | { kind: 'answer'; chain: ResourceRecord[]; records: ResourceRecord[] }
  | { kind: 'cname'; chain: ResourceRecord[]; target: string }
  | { kind: 'nxdomain' | 'nodata'; chain: ResourceRecord[]; soa: ResourceRecord | undefined }
  | { kind: 'servfail'; reason: string };

/** "1.2.3.4", "1.2.3.4:53", "[::1]:53", "::1" -> address and port. */
export function parseHostPort(text: string, defaultPort: number): ServerAddress {
  const t = text.trim();
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (bracket) return { host: bracket[1]!, port: bracket[2] ? Number(bracket[2]) : defaultPort };
  if (net.isIPv6(t)) return { host: t, port: defaultPort };
  const m = /^([^:]+):(\d+)$/.exec(t);
  if (m) return { host: m[1]!, port: Number(m[2]) };
  return { host: t, port: defaultPort };
}

function key(name: string, type: string): string {
  return `${canonicalName(name)} ${type.toUpperCase()}`;
}

function addrKey(a: ServerAddress): string {
  return net.isIPv6(a.host) ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** The ancestor of `name` with `count` labels. */
function ancestorWith(name: string, count: number): string {
  const labels = nameToLabels(name);
  return labelsToName(labels.slice(Math.max(0, labels.length - count)), true);
}

function labelCount(name: string): number {
  return nameToLabels(name).length;
}

export class Resolver implements DnsLookup {
  private readonly cache: DnsCache;
  private readonly roots: ServerAddress[];
  /** Smoothed RTT per server address and when it was last updated. */
  private readonly srtt = new Map<string, { ms: number; at: number }>();
  private readonly inflight = new Map<string, Promise<Resolution>>();
  private readonly now: () => number;
  private readonly send: NonNullable<ResolverInternals['query']>;
  private readonly abort = (() => {
    const c = new AbortController();
    // Every upstream query listens on this one signal (close() cancels them all).
    setMaxListeners(0, c.signal);
    return c;
  })();
  private outstanding = 0;
  private seq = 0;
  private closed = false;

  constructor(readonly options: ResolverOptions, internals: ResolverInternals = {}) {
    this.now = internals.now ?? Date.now;
    this.send = internals.query ?? clientQuery;
    this.cache = new DnsCache(options.cacheSize, this.now);
    this.roots = options.rootHints.map((h) => parseHostPort(h, options.upstreamPort));
  }

  /** Entries in the cache (for tests and the console). */
  get cacheEntries(): number {
    return this.cache.size;
  }

  /** Resolutions in progress. */
  get inProgress(): number {
    return this.outstanding;
  }

  close(): void {
    this.closed = true;
    this.abort.abort();
    this.cache.clear();
  }

  // --- client-facing ---------------------------------------------------------------------------

  /** The full recursive response to a client's query (RA set, RD/CD echoed, EDNS per RFC 6891). */
  async answer(query: Message): Promise<Message> {
    const res: Message = {
      id: query.id,
      flags: emptyFlags({ qr: true, opcode: query.flags.opcode, rd: query.flags.rd, cd: query.flags.cd, ra: true }),
      questions: query.questions.map((q) => ({ ...q })),
      answers: [],
      authorities: [],
      additionals: [],
    };
    const edns = responseEdns(query);
    if (edns) res.edns = edns;
    if (query.flags.opcode !== OPCODE.QUERY) { res.flags.rcode = RCODE.NOTIMP; return res; }
    const bad = badVersResponse(query);
    if (bad) return { ...bad, flags: { ...bad.flags, ra: true } };
    if (query.questions.length !== 1) { res.flags.rcode = RCODE.FORMERR; return res; }
    const q = query.questions[0]!;
    let qtype: string;
    try { qtype = normalizeType(q.type); } catch { res.flags.rcode = RCODE.FORMERR; return res; }
    if (q.class.toUpperCase() !== 'IN') { res.flags.rcode = RCODE.REFUSED; return res; }
    if (qtype === 'OPT') { res.flags.rcode = RCODE.FORMERR; return res; }
    if (qtype === 'AXFR' || qtype === 'IXFR' || qtype === 'MAILA' || qtype === 'MAILB') { res.flags.rcode = RCODE.NOTIMP; return res; }
    const r = await this.resolve(q.name, qtype);
    res.flags.rcode = r.rcode;
    // Owner names come back canonical; show the client the name in the case it asked.
    const asked = canonicalName(q.name);
    res.answers = r.answers.map((rr) => (rr.name === asked ? { ...rr, name: q.name } : rr));
    res.authorities = r.authority;
    return res;
  }

  /**
   * Resolves `name`/`type`. Failures are SERVFAIL resolutions; only a malformed name or an
   * unknown type rejects (WHARF_DNS_FORMAT). The trace is always collected (and emitted on the
   * bus); `opts.trace` is accepted for symmetry with the CLI.
   */
  resolve(name: string, type: string, _opts: { trace?: boolean } = {}): Promise<Resolution> {
    let qtype: string;
    let qname: string;
    try {
      qtype = normalizeType(type);
      qname = canonicalName(name);
    } catch (err) {
      return Promise.reject(err);
    }
    const k = key(qname, qtype);
    // Coalescing: identical questions in flight share one resolution.
    const running = this.inflight.get(k);
    if (running) return running;
    const work: Work = { id: `r${++this.seq}`, trace: [], step: 0, queries: 0 };
    if (this.closed) return Promise.resolve(this.failure(work, 'resolver closed'));
    if (this.outstanding >= this.options.maxOutstanding) {
      this.emit(work, { server: '-', qname, qtype, outcome: 'refused', detail: `more than ${this.options.maxOutstanding} resolutions outstanding` });
      return Promise.resolve(this.failure(work, 'too many outstanding'));
    }
    this.outstanding++;
    const p = this.run(qname, qtype, { work, nsDepth: 0 })
      .catch((err: unknown) => {
        this.options.logger?.warn('resolution failed', { name: qname, type: qtype, err });
        return this.failure(work, 'internal error');
      })
      .finally(() => {
        this.outstanding--;
        this.inflight.delete(k);
      });
    this.inflight.set(k, p);
    return p;
  }

  /** MX records sorted by preference (RFC 5321 §5.1); [] when none; null MX -> exchange "". */
  async mx(domain: string): Promise<MxRecord[]> {
    const r = await this.resolve(domain, 'MX');
    this.check(r, domain);
    const mx = r.answers.filter((rr) => rr.type === 'MX').map((rr) => rr.data as MxData);
    // RFC 7505 §3: a single MX with exchange "." says the domain takes no mail.
    if (mx.length === 1 && canonicalName(mx[0]!.exchange) === '.') return [{ preference: 0, exchange: '' }];
    return mx
      .map((m) => ({ preference: m.preference, exchange: canonicalName(m.exchange).replace(/\.$/, '') }))
      .sort((a, b) => a.preference - b.preference || a.exchange.localeCompare(b.exchange));
  }

  /** IPv4 then IPv6 addresses of `host` (CNAMEs followed); [] when it has none. */
  async addresses(host: string): Promise<string[]> {
    if (net.isIP(host)) return [host];
    const [a, aaaa] = await Promise.all([this.resolve(host, 'A'), this.resolve(host, 'AAAA')]);
    this.check(a, host);
    const v4 = a.answers.filter((rr) => rr.type === 'A').map((rr) => (rr.data as { address: string }).address);
    // AAAA failing while A worked is not worth deferring mail over.
    const v6 = aaaa.rcode === RCODE.NOERROR ? aaaa.answers.filter((rr) => rr.type === 'AAAA').map((rr) => (rr.data as { address: string }).address) : [];
    if (v4.length === 0 && v6.length === 0) this.check(aaaa, host);
    return [...v4, ...v6];
  }

  private check(r: Resolution, name: string): void {
    if (r.rcode === RCODE.NXDOMAIN) throw new WharfError(DnsLookupErrors.nxdomain, `${name}: no such domain`);
    if (r.rcode !== RCODE.NOERROR) throw new WharfError(DnsLookupErrors.temp, `${name}: temporary DNS failure (rcode ${r.rcode})`);
  }

  // --- resolution ------------------------------------------------------------------------------

  private failure(work: Work, _reason: string): Resolution {
    return { rcode: RCODE.SERVFAIL, answers: [], authority: [], cnameChain: [], fromCache: work.queries === 0, trace: work.trace };
  }

  private emit(work: Work, ev: Omit<ResolverTraceEvent, 'resolution' | 'step' | 'at'>): void {
    const full: ResolverTraceEvent = { resolution: work.id, step: ++work.step, at: this.now(), ...ev };
    if (full.serverName === undefined) delete full.serverName;
    if (full.detail === undefined) delete full.detail;
    work.trace.push(full);
    this.options.bus?.emit('dns-trace', full);
  }

  /** Cache first, then iteration, following CNAMEs across zones. */
  private async run(qname: string, qtype: string, ctx: Ctx): Promise<Resolution> {
    const { work } = ctx;
    const chain: ResourceRecord[] = [];
    let current = qname;
    const seen = new Set<string>();
    const done = (rcode: number, records: ResourceRecord[], authority: ResourceRecord[]): Resolution => ({
      rcode,
      answers: [...chain, ...records],
      authority,
      cnameChain: chain,
      fromCache: work.queries === 0,
      trace: work.trace,
    });
    for (let hop = 0; hop <= MAX_CNAME_CHAIN; hop++) {
      if (seen.has(current)) {
        this.emit(work, { server: '-', qname: current, qtype, outcome: 'error', detail: 'CNAME loop' });
        return done(RCODE.SERVFAIL, [], []);
      }
      seen.add(current);
      const hit = this.cache.lookup(current, qtype);
      if (hit) {
        if (hit.kind === 'rrset') {
          this.emit(work, { server: 'cache', qname: current, qtype, outcome: 'cache', detail: `answer, ttl ${hit.records[0]!.ttl}` });
          return done(RCODE.NOERROR, hit.records, []);
        }
        this.emit(work, { server: 'cache', qname: current, qtype, outcome: 'cache', detail: hit.kind });
        return done(hit.kind === 'nxdomain' ? RCODE.NXDOMAIN : RCODE.NOERROR, [], hit.soa ? [hit.soa] : []);
      }
      if (qtype !== 'CNAME') {
        const cname = this.cache.getRRset(current, 'CNAME', Rank.answer);
        if (cname) {
          const target = rdataTargetName(cname[0]!);
          this.emit(work, { server: 'cache', qname: current, qtype, outcome: 'cache', detail: `cname to ${target}` });
          chain.push(cname[0]!);
          if (target === undefined) return done(RCODE.SERVFAIL, [], []);
          current = canonicalName(target);
          continue;
        }
      }
      const out = await this.iterate(current, qtype, ctx);
      switch (out.kind) {
        case 'answer':
          chain.push(...out.chain);
          return done(RCODE.NOERROR, out.records, []);
        case 'cname':
          chain.push(...out.chain);
          current = out.target;
          continue;
        case 'nxdomain':
        case 'nodata':
          chain.push(...out.chain);
          return done(out.kind === 'nxdomain' ? RCODE.NXDOMAIN : RCODE.NOERROR, [], out.soa ? [out.soa] : []);
        case 'servfail':
          return done(RCODE.SERVFAIL, [], []);
      }
    }
    this.emit(work, { server: '-', qname: current, qtype, outcome: 'error', detail: `CNAME chain longer than ${MAX_CNAME_CHAIN}` });
    return done(RCODE.SERVFAIL, [], []);
  }

  /** The deepest zone at or above `name` whose servers we know (RFC 1034 §5.3.3 step 2). */
  private closestDelegation(name: string): { zone: string; servers: NsServer[] } {
    const labels = nameToLabels(name);
    for (let i = 0; i < labels.length; i++) {
      const zone = labelsToName(labels.slice(i), true);
      const ns = this.cache.getRRset(zone, 'NS');
      if (!ns) continue;
      const servers = this.serversFor(ns, []);
      // Usable if some server has an address or could be looked up outside this zone.
      if (servers.some((s) => s.addrs.length > 0 || (s.name !== undefined && !isSubdomain(s.name, zone)))) return { zone, servers };
    }
    return { zone: '.', servers: this.roots.map((a) => ({ addrs: [a] })) };
  }

  private serversFor(ns: ResourceRecord[], glue: ResourceRecord[]): NsServer[] {
    const out: NsServer[] = [];
    for (const r of ns) {
      const host = rdataTargetName(r);
      if (host === undefined) continue;
      const name = canonicalName(host);
      const fromGlue = glue.filter((g) => canonicalName(g.name) === name);
      const known = fromGlue.length > 0 ? fromGlue : [...(this.cache.getRRset(name, 'A') ?? []), ...(this.cache.getRRset(name, 'AAAA') ?? [])];
      const addrs = known.map((g) => ({ host: (g.data as { address: string }).address, port: this.options.upstreamPort }));
      out.push({ name, addrs });
    }
    return out;
  }

  private cacheOutcome(c: Classified, qname: string, qtype: string): void {
    switch (c.kind) {
      case 'answer':
        for (const set of groupRRsets(c.chain)) this.cache.putRRset(set, Rank.answer);
        this.cache.putRRset(c.records, Rank.answer);
        break;
      case 'cname':
        for (const set of groupRRsets(c.chain)) this.cache.putRRset(set, Rank.answer);
        break;
      case 'nxdomain': {
        for (const set of groupRRsets(c.chain)) this.cache.putRRset(set, Rank.answer);
        const last = c.chain.length > 0 ? rdataTargetName(c.chain[c.chain.length - 1]!) ?? qname : qname;
        this.cache.putNxdomain(last, c.soa);
        break;
      }
      case 'nodata': {
        for (const set of groupRRsets(c.chain)) this.cache.putRRset(set, Rank.answer);
        const last = c.chain.length > 0 ? rdataTargetName(c.chain[c.chain.length - 1]!) ?? qname : qname;
        this.cache.putNodata(last, qtype, c.soa);
        break;
      }
      case 'referral':
        this.cache.putRRset(c.ns, Rank.referral);
        for (const set of groupRRsets(c.glue)) this.cache.putRRset(set, Rank.glue);
        break;
      default:
        break;
    }
  }

  /** Iterates from the closest known delegation down to an authoritative answer for one name. */
  private async iterate(qname: string, qtype: string, ctx: Ctx): Promise<Outcome> {
    let { zone, servers } = this.closestDelegation(qname);
    let minimise = this.options.qnameMinimisation;
    let minimised = 0;
    let revealed = labelCount(zone) + 1;
    const total = labelCount(qname);
    for (let steps = 0; steps < MAX_REFERRALS + MAX_MINIMISE; steps++) {
      let sendName = qname;
      let sendType = qtype;
      // RFC 9156 §3: ask each server only for the next label below its zone, type A (§2.1),
      // until the answer is for the full name; after MAX_MINIMISE steps, send it all (§2.3).
      if (minimise && revealed < total) {
        if (++minimised > MAX_MINIMISE) minimise = false;
        else {
          sendName = ancestorWith(qname, Math.max(revealed, labelCount(zone) + 1));
          sendType = 'A';
        }
      }
      const got = await this.askZone(zone, servers, sendName, sendType, ctx);
      if (!got) {
        // RFC 9156 §3 (step 6 note): servers that choke on minimised queries get the full name.
        if (sendName !== qname) { minimise = false; continue; }
        return { kind: 'servfail', reason: `no server for ${zone} answered` };
      }
      const c = got;
      if (sendName !== qname) {
        if (c.kind === 'referral') {
          this.cacheOutcome(c, sendName, sendType);
          zone = c.zone;
          servers = this.serversFor(c.ns, c.glue);
          revealed = labelCount(zone) + 1;
          continue;
        }
        if (c.kind === 'nxdomain' && c.chain.length === 0) {
          // RFC 8020 §2 / RFC 9156 §3: nothing exists below a name that does not exist.
          this.cache.putNxdomain(sendName, c.soa);
          this.cache.putNxdomain(qname, c.soa);
          return { kind: 'nxdomain', chain: [], soa: c.soa };
        }
        // The name exists and is not a cut: reveal one more label to the same servers.
        revealed = labelCount(sendName) + 1;
        if (c.kind === 'cname') minimise = false; // a CNAME half-way: ask for the whole name
        continue;
      }
      this.cacheOutcome(c, qname, qtype);
      switch (c.kind) {
        case 'referral':
          zone = c.zone;
          servers = this.serversFor(c.ns, c.glue);
          revealed = labelCount(zone) + 1;
          continue;
        case 'answer':
          return { kind: 'answer', chain: c.chain, records: c.records };
        case 'cname':
          return { kind: 'cname', chain: c.chain, target: c.target };
        case 'nxdomain':
        case 'nodata':
          return { kind: c.kind, chain: c.chain, soa: c.soa };
        default:
          return { kind: 'servfail', reason: 'unexpected response' };
      }
    }
    this.emit(ctx.work, { server: '-', qname, qtype, outcome: 'error', detail: 'too many referrals' });
    return { kind: 'servfail', reason: 'too many referrals' };
  }

  /** Addresses of a name server, looked up by a nested resolution when there was no glue. */
  private async nsAddresses(host: string, zone: string, ctx: Ctx): Promise<ServerAddress[]> {
    // A server named inside the zone it serves cannot be found without glue.
    if (isSubdomain(host, zone)) return [];
    if (ctx.nsDepth >= MAX_NS_DEPTH) return [];
    const r = await this.run(canonicalName(host), 'A', { work: ctx.work, nsDepth: ctx.nsDepth + 1 });
    return r.answers.filter((rr) => rr.type === 'A').map((rr) => ({ host: (rr.data as { address: string }).address, port: this.options.upstreamPort }));
  }

  private rttOf(a: ServerAddress): number {
    const e = this.srtt.get(addrKey(a));
    // Forget old estimates, so a server that failed once is tried again later.
    if (!e || this.now() - e.at > RTT_FORGET_MS) return 0;
    return e.ms;
  }

  private noteRtt(a: ServerAddress, ms: number, failed: boolean): void {
    const k = addrKey(a);
    const old = this.srtt.get(k);
    const at = this.now();
    this.srtt.delete(k);
    if (failed) {
      // Back off a server that did not answer, so the rest of the NS set is asked first.
      this.srtt.set(k, { ms: Math.min(120_000, Math.max(old?.ms ?? 0, this.options.timeoutMs) * 2), at });
    } else {
      this.srtt.set(k, { ms: old === undefined ? ms : Math.round(0.7 * old.ms + 0.3 * ms), at });
    }
    if (this.srtt.size > 10_000) this.srtt.delete(this.srtt.keys().next().value as string);
  }

  /**
   * Asks the servers of `zone` (best RTT first, name servers without addresses looked up on
   * the way) until one gives a usable response; null when none does.
   */
  private async askZone(zone: string, servers: NsServer[], name: string, type: string, ctx: Ctx): Promise<Classified | null> {
    const { work } = ctx;
    const tried = new Set<string>();
    const withAddrs = servers.filter((s) => s.addrs.length > 0);
    const without = servers.filter((s) => s.addrs.length === 0 && s.name !== undefined);
    let tries = 0;
    const attempt = async (candidates: { addr: ServerAddress; server: NsServer }[]): Promise<Classified | null> => {
      // Best smoothed RTT first; untried servers (0) before slow ones; ties keep NS order.
      candidates.sort((x, y) => this.rttOf(x.addr) - this.rttOf(y.addr));
      for (const { addr, server } of candidates) {
        const k = addrKey(addr);
        if (tried.has(k)) continue;
        tried.add(k);
        if (tries++ >= MAX_TRIES_PER_STEP) return null;
        if (work.queries >= MAX_QUERIES) {
          this.emit(work, { server: k, qname: name, qtype: type, outcome: 'error', detail: `more than ${MAX_QUERIES} upstream queries` });
          return null;
        }
        if (this.closed) return null;
        work.queries++;
        const base = { server: k, ...(server.name !== undefined ? { serverName: server.name } : {}), qname: name, qtype: type, zone };
        let result: QueryResult;
        try {
          result = await this.send(addr, { name, type, class: 'IN' }, { timeoutMs: this.options.timeoutMs, randomCase: true, signal: this.abort.signal });
        } catch (err) {
          const code = (err as { code?: string }).code;
          if (code === DNS_ABORTED) return null;
          this.noteRtt(addr, this.options.timeoutMs, true);
          this.emit(work, { ...base, outcome: code === DNS_TIMEOUT ? 'timeout' : 'error', detail: (err as Error).message });
          continue;
        }
        this.noteRtt(addr, result.rttMs, false);
        const { message, dropped } = sanitize(result.message, zone);
        const c = classify(message, name, type, zone);
        const scrubbed = dropped > 0 ? `; ${dropped} out-of-bailiwick record${dropped === 1 ? '' : 's'} dropped` : '';
        switch (c.kind) {
          case 'error':
            this.noteRtt(addr, this.options.timeoutMs, true); // a refusing server is as good as none
            this.emit(work, { ...base, outcome: c.rcode === RCODE.REFUSED ? 'refused' : 'error', detail: c.reason });
            continue;
          case 'lame':
            this.noteRtt(addr, this.options.timeoutMs, true);
            this.emit(work, { ...base, outcome: 'error', detail: `lame: ${c.reason}` });
            continue;
          case 'referral':
            this.emit(work, { ...base, outcome: 'referral', detail: `referral to ${c.zone} (${c.ns.map((r) => rdataTargetName(r)).join(' ')})${c.glue.length ? '' : ', no glue'}${scrubbed}` });
            return c;
          case 'answer':
            this.emit(work, { ...base, outcome: 'answer', detail: `${[...c.chain, ...c.records].map(brief).join(', ')}${scrubbed}` });
            return c;
          case 'cname':
            this.emit(work, { ...base, outcome: 'cname', detail: `${c.chain.map(brief).join(', ')}${scrubbed}` });
            return c;
          case 'nxdomain':
          case 'nodata':
            this.emit(work, { ...base, outcome: c.kind, detail: `${c.soa ? `SOA ${c.soa.name} ttl ${c.soa.ttl}` : 'no SOA'}${scrubbed}` });
            return c;
        }
      }
      return null;
    };
    const first = await attempt(withAddrs.flatMap((s) => s.addrs.map((addr) => ({ addr, server: s }))));
    if (first) return first;
    // RFC 1034 §5.3.3 step 4: no glue — find the servers' addresses, one at a time.
    for (const s of without) {
      if (tries >= MAX_TRIES_PER_STEP || work.queries >= MAX_QUERIES || this.closed) break;
      const addrs = await this.nsAddresses(s.name!, zone, ctx);
      if (addrs.length === 0) continue;
      const got = await attempt(addrs.map((addr) => ({ addr, server: { name: s.name!, addrs } })));
      if (got) return got;
    }
    return null;
  }
}

function brief(r: ResourceRecord): string {
  const target = rdataTargetName(r);
  const d = r.data as { address?: string };
  return `${r.name} ${r.type} ${d.address ?? target ?? ''}`.trim();
}
