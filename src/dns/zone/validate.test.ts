import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertValidZone, validateZone } from './validate.js';
import { parseZone } from './parse.js';

const base = `$TTL 60
@ SOA dns hostmaster 1 2 3 4 5
@ NS dns
dns A 10.0.0.1
`;
const check = (extra: string, origin = 'hamburger.edu.') => validateZone(origin, parseZone(base + extra, { origin: 'hamburger.edu.' }).records);

test('a good zone has no problems', () => {
  assert.deepEqual(check('www CNAME dns\n'), []);
  assertValidZone('hamburger.edu', parseZone(base, { origin: 'hamburger.edu.' }).records);
});

test('SOA rules: missing, twice, not at the apex', () => {
  const noSoa = validateZone('x.', parseZone('$TTL 1\n@ NS ns\n', { origin: 'x.' }).records);
  assert.match(noSoa.map((p) => p.message).join(), /no SOA/);
  assert.match(check('@ SOA dns2 hm 1 2 3 4 5\n').map((p) => p.message).join(), /more than one SOA/);
  assert.match(check('sub SOA dns hm 1 2 3 4 5\n').map((p) => p.message).join(), /not at the zone apex/);
});

test('NS at the apex is required', () => {
  const z = parseZone('$TTL 1\n@ SOA a b 1 2 3 4 5\nsub NS ns\n', { origin: 'x.' });
  assert.match(validateZone('x.', z.records).map((p) => p.message).join(), /no NS record at the apex/);
});

test('CNAME beside other data, two CNAMEs, CNAME at the apex', () => {
  assert.match(check('www CNAME dns\nwww A 10.0.0.2\n').map((p) => p.message).join(), /CNAME beside other data \(A\)/);
  assert.match(check('www CNAME dns\nwww CNAME mail\n').map((p) => p.message).join(), /more than one CNAME/);
  assert.match(check('@ CNAME other.net.\n').map((p) => p.message).join(), /CNAME beside other data/);
});

test('out-of-zone data, RRset TTL mismatch is only a warning', () => {
  assert.match(check('www.crepes.fr. A 1.1.1.1\n').map((p) => p.message).join(), /outside the zone/);
  const p = check('m 10 A 1.1.1.1\nm 20 A 1.1.1.2\n');
  assert.equal(p.length, 1);
  assert.equal(p[0]!.level, 'warning');
  assertValidZone('hamburger.edu.', parseZone(base + 'm 10 A 1.1.1.1\nm 20 A 1.1.1.2\n', { origin: 'hamburger.edu.' }).records);
});

test('assertValidZone throws WHARF_ZONE_INVALID listing the problems', () => {
  assert.throws(
    () => assertValidZone('x.', parseZone('$TTL 1\na A 1.1.1.1\n', { origin: 'x.' }).records),
    (e: unknown) => e instanceof Error && (e as { code?: string }).code === 'WHARF_ZONE_INVALID' && /no SOA/.test(e.message) && /no NS/.test(e.message),
  );
});
