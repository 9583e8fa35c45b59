// DNS message model (RFC 1035 §4.1) shared by the wire codec, the zone parser and the
// authoritative/recursive logic.
//
// Invariants
//  - Names are presentation-form strings ("www.hamburger.edu.", root is "."): labels separated by
//    unescaped dots, `\.` `\\` and `\DDD` escapes for odd bytes. They keep the case they were
//    written or received in and compare case-insensitively (RFC 4343) via name.ts.
//  - `type` and `class` are mnemonics ("A", "IN"); types and classes without one are "TYPE123" /
//    "CLASS7" (RFC 3597 §5). typeCode()/typeName() in records.ts convert.
//  - `data` is typed for the types we model (see RDataByType); any other type carries its RDATA
//    opaque as `{ rdata }` (RFC 3597). A known type may also be given opaque on encode.
//  - `flags.rcode` is the full 12-bit RCODE: the low 4 bits travel in the header, the upper 8 in
//    the OPT record (RFC 6891 §6.1.3). The OPT pseudo-record never appears in `additionals`: it
//    is lifted into `edns` on decode and written from it on encode.

export interface Flags {
  /** Response (true) or query. */
  qr: boolean;
  /** OPCODE, 4 bits (OPCODE.QUERY, …). */
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  /** Authentic data (RFC 4035 §3.2.3). */
  ad: boolean;
  /** Checking disabled (RFC 4035 §3.2.2). */
  cd: boolean;
  /** Full RCODE (0..4095); values above 15 need EDNS. */
  rcode: number;
}

export interface Question {
  name: string;
  type: string;
  class: string;
}

export interface EdnsOption {
  code: number;
  data: Uint8Array;
}

export interface Edns {
  /** Requestor's UDP payload size (RFC 6891 §6.2.3); values below 512 are treated as 512 by users. */
  udpSize: number;
  /** Upper 8 bits of the RCODE as received. Ignored on encode: derived from flags.rcode. */
  extendedRcode: number;
  version: number;
  /** DNSSEC OK bit (RFC 3225). */
  do: boolean;
  options: EdnsOption[];
}

export interface AData { address: string }
export interface NsData { host: string }
export interface TargetData { target: string }
export interface SoaData {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}
export interface MxData { preference: number; exchange: string }
/** Character-strings as text: valid UTF-8 decodes as such; other bytes ride as lone surrogates
 * U+DC80..U+DCFF (surrogate-escape), so every byte string round-trips. */
export interface TxtData { strings: string[] }
export interface SrvData { priority: number; weight: number; port: number; target: string }
/** RFC 8659 §4.1. `value` text as for TXT. */
export interface CaaData { flags: number; tag: string; value: string }
/** RFC 3597 opaque RDATA. */
export interface OpaqueData { rdata: Uint8Array }

export interface RDataByType {
  A: AData;
  AAAA: AData;
  NS: NsData;
  CNAME: TargetData;
  PTR: TargetData;
  SOA: SoaData;
  MX: MxData;
  TXT: TxtData;
  SRV: SrvData;
  CAA: CaaData;
}
export type KnownType = keyof RDataByType;
export type RData = RDataByType[KnownType] | OpaqueData;

export interface ResourceRecord {
  name: string;
  type: string;
  class: string;
  /** Seconds, 0..2^31-1 (RFC 2181 §8). */
  ttl: number;
  data: RData;
}
/** The brief's name for a resource record. */
export type { ResourceRecord as Record };
/** A record whose data is the typed data of `T`. */
export type TypedRecord<T extends KnownType> = Omit<ResourceRecord, 'type' | 'data'> & { type: T; data: RDataByType[T] };

export interface Message {
  id: number;
  flags: Flags;
  questions: Question[];
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  additionals: ResourceRecord[];
  edns?: Edns;
}

export const OPCODE = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5 } as const;

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
  /** RFC 6891 §9: needs EDNS (extended RCODE 1). */
  BADVERS: 16,
} as const;

/** Flags of a fresh query or empty answer: everything off, opcode QUERY, NOERROR. */
export function emptyFlags(over: Partial<Flags> = {}): Flags {
  return { qr: false, opcode: 0, aa: false, tc: false, rd: false, ra: false, ad: false, cd: false, rcode: 0, ...over };
}
