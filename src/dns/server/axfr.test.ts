import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encode } from '../wire/message.js';
import type { ResourceRecord } from '../wire/types.js';
import { parseZone } from '../zone/parse.js';
import { transferMessages } from './axfr.js';
import { query } from './testing.js';

function bigZone(n: number): ResourceRecord[] {
  const lines = ['$ORIGIN big.test.', '$TTL 60', '@ SOA ns hm 7 1 1 1 1', '@ NS ns', 'ns A 127.0.0.1'];
  for (let i = 0; i < n; i++) lines.push(`host${i} A 127.0.${i >> 8}.${i & 255}`, `host${i} TXT "${'x'.repeat(100)}"`);
  return parseZone(lines.join('\n'), { origin: 'big.test.' }).records;
}

test('a small zone is one message: SOA, records, SOA; question copied', () => {
  const recs = bigZone(2);
  const msgs = transferMessages(query('big.test.', 'AXFR'), recs);
  assert.equal(msgs.length, 1);
  const a = msgs[0]!.answers;
  assert.equal(a[0]!.type, 'SOA');
  assert.equal(a.at(-1)!.type, 'SOA');
  assert.equal(a.length, recs.length + 1);
  assert.equal(msgs[0]!.questions[0]!.type, 'AXFR');
  assert.equal(msgs[0]!.flags.aa, true);
});

test('a large zone is split into messages under the size budget, in order, nothing lost', () => {
  const recs = bigZone(2000);
  const msgs = transferMessages(query('big.test.', 'AXFR'), recs, 16_384);
  assert.ok(msgs.length > 10, String(msgs.length));
  for (const m of msgs) assert.ok(encode(m).buf.length <= 16_384);
  assert.equal(msgs[0]!.questions.length, 1);
  assert.equal(msgs[1]!.questions.length, 0);
  const all = msgs.flatMap((m) => m.answers);
  assert.equal(all.length, recs.length + 1);
  assert.equal(all[0]!.type, 'SOA');
  assert.equal(all.at(-1)!.type, 'SOA');
  assert.equal(all.filter((r) => r.type === 'SOA').length, 2);
});

test('IXFR: an up-to-date client gets the SOA alone, an older one the whole zone', () => {
  const recs = bigZone(3);
  const soa = recs.find((r) => r.type === 'SOA')!;
  const current = transferMessages(query('big.test.', 'IXFR', { authorities: [soa] }), recs);
  assert.equal(current.length, 1);
  assert.deepEqual(current[0]!.answers.map((r) => r.type), ['SOA']);
  const old = { ...soa, data: { ...(soa.data as object), serial: 3 } } as ResourceRecord;
  const full = transferMessages(query('big.test.', 'IXFR', { authorities: [old] }), recs);
  assert.equal(full[0]!.answers.length, recs.length + 1);
});
