import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Zone, ZoneSet, answerQuery } from './authoritative.js';
import { domainZoneText } from './domain-zone.js';
import { validateZone } from './zone/validate.js';
import { parseZone } from './zone/parse.js';
import { emptyFlags } from './wire/types.js';

const ask = (zone: Zone, name: string, type: string) =>
  answerQuery({ id: 1, flags: emptyFlags(), questions: [{ name, type, class: 'IN' }], answers: [], authorities: [], additionals: [] }, ZoneSet.fromZones([zone]), { recursionAvailable: false })!;

test('a mail domain hosted by an outside hostname: NS hostname, MX mail.<domain> with its A', () => {
  const text = domainZoneText('crepes.fr', { hostname: 'wharf.example.net', address: '127.0.0.40', serial: 7 });
  const { records } = parseZone(text, { origin: 'crepes.fr.' });
  assert.deepEqual(validateZone('crepes.fr.', records).filter((p) => p.level !== 'warning'), []);
  const zone = new Zone({ origin: 'crepes.fr.', records });
  assert.equal(zone.soa.data.serial, 7);
  assert.equal(zone.soa.data.mname, 'wharf.example.net.');
  assert.deepEqual(ask(zone, 'crepes.fr.', 'NS').answers.map((r) => (r.data as { host: string }).host), ['wharf.example.net.']);
  const mx = ask(zone, 'crepes.fr.', 'MX');
  assert.deepEqual(mx.answers.map((r) => r.data), [{ preference: 10, exchange: 'mail.crepes.fr.' }]);
  assert.deepEqual(mx.additionals.map((r) => (r.data as { address: string }).address), ['127.0.0.40'], 'the MX host has an address');
  assert.equal(ask(zone, 'crepes.fr.', 'A').answers.length, 1);
});

test('a hostname inside the domain is the MX and gets an A; IPv6 addresses give AAAA; default serial is a date', () => {
  const text = domainZoneText('hamburger.edu.', { hostname: 'mx.hamburger.edu', address: '::1' });
  const { records } = parseZone(text, { origin: 'hamburger.edu.' });
  const zone = new Zone({ origin: 'hamburger.edu.', records });
  assert.deepEqual(ask(zone, 'hamburger.edu.', 'MX').answers.map((r) => r.data), [{ preference: 10, exchange: 'mx.hamburger.edu.' }]);
  assert.equal(ask(zone, 'mx.hamburger.edu.', 'AAAA').answers.length, 1);
  assert.equal(ask(zone, 'mail.hamburger.edu.', 'A').flags.rcode, 3, 'no mail.<domain> when the hostname is the MX');
  assert.match(String(zone.soa.data.serial), /^20\d{6}00$/);
  assert.throws(() => domainZoneText('x.test', { hostname: 'h.test', address: 'not-an-ip' }));
});
