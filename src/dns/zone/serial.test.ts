import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bumpSerial, compareSerial, dateSerial, isDateSerial, serialAdd, withBumpedSerial } from './serial.js';
import type { ResourceRecord } from '../wire/types.js';

test('RFC 1982 comparison, including wrap-around and the undefined case', () => {
  assert.equal(compareSerial(1, 2), -1);
  assert.equal(compareSerial(2, 1), 1);
  assert.equal(compareSerial(5, 5), 0);
  assert.equal(compareSerial(0xffffffff, 0), -1, 'wraps');
  assert.equal(compareSerial(0, 0xffffffff), 1);
  assert.equal(compareSerial(0, 2 ** 31), undefined);
  assert.equal(compareSerial(2 ** 31 + 5, 5), undefined);
});

test('serialAdd wraps and refuses increments of 2^31 or more', () => {
  assert.equal(serialAdd(0xffffffff, 1), 0);
  assert.equal(serialAdd(10, 2 ** 31 - 1), 10 + 2 ** 31 - 1);
  assert.throws(() => serialAdd(1, 2 ** 31), /1982/);
  assert.throws(() => serialAdd(1, -1), /1982/);
});

test('date serials: jump to today, else increment', () => {
  const now = new Date(Date.UTC(2024, 4, 17));
  assert.equal(dateSerial(now), 2024051700);
  assert.ok(isDateSerial(2024051700));
  assert.ok(!isDateSerial(2024023001), 'Feb 30');
  assert.ok(!isDateSerial(7));
  assert.equal(bumpSerial(2023120105, now), 2024051700);
  assert.equal(bumpSerial(2024051700, now), 2024051701);
  assert.equal(bumpSerial(2024051799, now), 2024051800, 'nn overflow moves on');
  assert.equal(bumpSerial(2030010100, now), 2030010101, 'a future date serial only increments');
  assert.equal(bumpSerial(41, now), 42);
  assert.equal(bumpSerial(0xffffffff, now), 0);
});

test('withBumpedSerial copies the records with a new SOA serial', () => {
  const soa: ResourceRecord = { name: 'x.', type: 'SOA', class: 'IN', ttl: 1, data: { mname: 'a.', rname: 'b.', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 1 } };
  const a: ResourceRecord = { name: 'x.', type: 'A', class: 'IN', ttl: 1, data: { address: '1.1.1.1' } };
  const out = withBumpedSerial([a, soa]);
  assert.equal((out[1]!.data as { serial: number }).serial, 2);
  assert.equal((soa.data as { serial: number }).serial, 1, 'input untouched');
  assert.equal(out[0], a);
  assert.throws(() => withBumpedSerial([a]), /no SOA/);
});
