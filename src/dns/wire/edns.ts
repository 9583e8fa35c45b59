// EDNS0 helpers (RFC 6891): what to echo in a response, the UDP size a response may use, and the
// BADVERS answer to a query of an EDNS version we do not speak.
//
// Invariants
//  - A response carries OPT only if the query did (RFC 6891 §7).
//  - We implement version 0 only: a query with a higher version gets RCODE BADVERS, OPT version 0,
//    and nothing else (RFC 6891 §6.1.3).
//  - UDP payload sizes below 512 are treated as 512 (RFC 6891 §6.2.5).

import { RCODE, emptyFlags } from './types.js';
import type { Edns, Message } from './types.js';

/** Our advertised UDP payload size (DNS Flag Day 2020 default). */
export const DEFAULT_UDP_SIZE = 1232;
export const EDNS_VERSION = 0;

/** The OPT to put in a response to `query`, or undefined when the query had none. */
export function responseEdns(query: Message, udpSize = DEFAULT_UDP_SIZE): Edns | undefined {
  if (!query.edns) return undefined;
  return { udpSize, extendedRcode: 0, version: EDNS_VERSION, do: query.edns.do, options: [] };
}

/** Largest UDP response for `query`: 512 without EDNS, else the smaller of its size and ours. */
export function maxUdpPayload(query: Message, ourSize = DEFAULT_UDP_SIZE): number {
  if (!query.edns) return 512;
  return Math.max(512, Math.min(query.edns.udpSize, ourSize));
}

/** The BADVERS response when the query asks for an EDNS version above ours, else null. */
export function badVersResponse(query: Message, udpSize = DEFAULT_UDP_SIZE): Message | null {
  if (!query.edns || query.edns.version <= EDNS_VERSION) return null;
  return {
    id: query.id,
    flags: emptyFlags({ qr: true, opcode: query.flags.opcode, rd: query.flags.rd, cd: query.flags.cd, rcode: RCODE.BADVERS }),
    questions: query.questions.map((q) => ({ ...q })),
    answers: [],
    authorities: [],
    additionals: [],
    edns: { udpSize, extendedRcode: RCODE.BADVERS >> 4, version: EDNS_VERSION, do: query.edns.do, options: [] },
  };
}
