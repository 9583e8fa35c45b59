// Zone transfer (RFC 5936 AXFR; RFC 1995 IXFR answered with a full zone) as a pure function:
// the query and the zone's records in, the response messages out.
//
// Invariants
//  - The transfer is SOA, every other record, SOA (RFC 5936 §2.2); the first message carries
//    the question, later ones have none (§2.2.1 allows either).
//  - Each message stays under `maxSize` octets (a TCP message is at most 65535; we aim lower so
//    a TSIG fits). Sizes are counted without compression, an upper bound, so no message ever
//    needs truncation; a record larger than the budget travels alone.
//  - IXFR (RFC 1995 §4): when the client's serial is not older than ours, one message with our
//    SOA; otherwise the full zone in AXFR form.
import { nameWireLength } from '../wire/name.js';
import { Writer } from '../wire/name.js';
import { writeRData } from '../wire/records.js';
import { OPCODE, RCODE, emptyFlags } from '../wire/types.js';
import type { Message, ResourceRecord, SoaData } from '../wire/types.js';
import { compareSerial } from '../zone/serial.js';

export const AXFR_MESSAGE_SIZE = 16_384;

function rrSize(rr: ResourceRecord): number {
  const w = new Writer(64);
  writeRData(w, rr.type, rr.data);
  return nameWireLength(rr.name) + 10 + w.result().length;
}

function response(query: Message, first: boolean): Message {
  return {
    id: query.id,
    flags: emptyFlags({ qr: true, opcode: OPCODE.QUERY, aa: true, rd: query.flags.rd, rcode: RCODE.NOERROR }),
    questions: first ? query.questions.map((q) => ({ ...q })) : [],
    answers: [],
    authorities: [],
    additionals: [],
  };
}

/** The messages answering an AXFR/IXFR `query` for a zone whose records (SOA included) are given. */
export function transferMessages(query: Message, records: readonly ResourceRecord[], maxSize = AXFR_MESSAGE_SIZE): Message[] {
  const soa = records.find((r) => r.type.toUpperCase() === 'SOA');
  if (!soa) throw new Error('zone without SOA');
  const q = query.questions[0]!;
  if (q.type.toUpperCase() === 'IXFR') {
    const theirs = query.authorities.find((r) => r.type.toUpperCase() === 'SOA');
    const ours = (soa.data as SoaData).serial;
    if (theirs && compareSerial((theirs.data as SoaData).serial, ours) !== -1) {
      const m = response(query, true);
      m.answers.push(soa);
      return [m];
    }
  }
  const body = [soa, ...records.filter((r) => r !== soa), soa];
  const header = 12 + query.questions.reduce((n, x) => n + nameWireLength(x.name) + 4, 0);
  const out: Message[] = [];
  let cur = response(query, true);
  let size = header;
  for (const rr of body) {
    const n = rrSize(rr);
    if (cur.answers.length > 0 && size + n > maxSize) {
      out.push(cur);
      cur = response(query, false);
      size = 12;
    }
    cur.answers.push(rr);
    size += n;
  }
  out.push(cur);
  return out;
}
