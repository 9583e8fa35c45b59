// The authoritative DNS server as users meet it: dig (UDP, TCP, EDNS sizes, truncation then TCP,
// AXFR with TSIG), nsupdate with a TSIG key, NOTIFY to a secondary, and `wharf zone` editing
// zones while the server runs.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decode, encode } from '../../src/dns/wire/message.js';
import { OPCODE } from '../../src/dns/wire/types.js';
import { runWharf } from '../helpers/cli.js';
import { startTestWharf } from '../helpers/instance.js';
import type { TestWharf } from '../helpers/instance.js';

const SECRET = Buffer.from('e2e-tsig-secret-0123456789abcdef').toString('base64');
const ZONE = `$ORIGIN hamburger.edu.
$TTL 300
@ SOA ns1 hostmaster 100 3600 600 86400 60
@ NS ns1
ns1 A 127.0.0.53
www A 127.0.0.5
mail A 127.0.0.6
@ MX 10 mail
alias CNAME www
sub NS ns.sub
ns.sub A 127.0.0.77
${Array.from({ length: 30 }, (_, i) => `big TXT "${'t'.repeat(60)}${i}"`).join('\n')}
${Array.from({ length: 10 }, (_, i) => `mid TXT "${'m'.repeat(60)}${i}"`).join('\n')}
`;
/** Records in ZONE (the AXFR size counts the SOA twice). */
const ZONE_RECORDS = 9 + 30 + 10;

function run(cmd: string, args: string[], input?: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

describe('dns server with dig, nsupdate and wharf zone', () => {
  let t: TestWharf;
  let port: number;
  let secondary: dgram.Socket;
  const notifies: { zone: string; serial?: number }[] = [];
  const dig = (...args: string[]) => run('dig', ['@127.0.0.1', '-p', String(port), '+time=2', '+tries=1', ...args]);
  const wharf = (...args: string[]) => runWharf([...args, '--data', t.dataDir]);

  before(async () => {
    // A fake secondary on 127.0.0.3 that acknowledges NOTIFY.
    secondary = dgram.createSocket('udp4');
    await new Promise<void>((r) => secondary.bind(0, '127.0.0.3', () => r()));
    secondary.on('message', (m, rinfo) => {
      const q = decode(m);
      if (q.flags.opcode !== OPCODE.NOTIFY) return;
      const soa = q.answers.find((r) => r.type === 'SOA');
      notifies.push({ zone: q.questions[0]!.name, ...(soa ? { serial: (soa.data as { serial: number }).serial } : {}) });
      secondary.send(encode({ ...q, flags: { ...q.flags, qr: true }, answers: [] }).buf, rinfo.port, rinfo.address);
    });
    t = await startTestWharf({
      services: ['dns'],
      set: {
        'dns.recursion.enabled': false,
        'dns.tsig.keys': [`upd-key:hmac-sha256:${SECRET}`],
        'dns.secondaries': [`127.0.0.3:${secondary.address().port}`],
        'dns.rrl.enabled': false,
      },
    });
    port = t.port('dns');
    assert.equal(t.address('dns').transport, 'tcp+udp');
    const file = join(t.dataDir, 'hamburger.edu.zone');
    writeFileSync(file, ZONE);
    const r = await wharf('zone', 'import', file);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /imported zone hamburger\.edu\./);
    await waitFor(async () => (await dig('www.hamburger.edu', 'A', '+short')).out.trim() === '127.0.0.5');
  });
  after(async () => {
    await t?.stop();
    secondary?.close();
  });

  async function waitFor(check: () => Promise<boolean>, ms = 5000): Promise<void> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail('condition not met in time');
  }

  test('dig over UDP and TCP, +norec: authoritative answers (aa), no recursion offered', async () => {
    for (const extra of [[], ['+tcp'], ['+norec']]) {
      const r = await dig(...extra, 'www.hamburger.edu', 'A');
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /status: NOERROR/);
      assert.match(r.out, /flags: qr aa/);
      assert.match(r.out, /www\.hamburger\.edu\.\s+300\s+IN\s+A\s+127\.0\.0\.5/);
    }
    const cname = await dig('alias.hamburger.edu', 'A');
    assert.match(cname.out, /alias\.hamburger\.edu\.\s+300\s+IN\s+CNAME\s+www\.hamburger\.edu\.[\s\S]*127\.0\.0\.5/);
  });

  test('NXDOMAIN and NODATA with the SOA; a referral with glue; REFUSED outside our zones', async () => {
    const nx = await dig('nope.hamburger.edu', 'A');
    assert.match(nx.out, /status: NXDOMAIN/);
    assert.match(nx.out, /AUTHORITY SECTION:\nhamburger\.edu\.\s+60\s+IN\s+SOA/);
    const nodata = await dig('www.hamburger.edu', 'AAAA');
    assert.match(nodata.out, /status: NOERROR/);
    assert.match(nodata.out, /ANSWER: 0/);
    assert.match(nodata.out, /IN\s+SOA/);
    const ref = await dig('+norec', 'host.sub.hamburger.edu', 'A');
    assert.match(ref.out, /flags: qr;/, 'no aa on a referral');
    assert.match(ref.out, /sub\.hamburger\.edu\.\s+300\s+IN\s+NS\s+ns\.sub\.hamburger\.edu\./);
    assert.match(ref.out, /ns\.sub\.hamburger\.edu\.\s+300\s+IN\s+A\s+127\.0\.0\.77/);
    const out = await dig('www.example.com', 'A');
    assert.match(out.out, /status: REFUSED/);
  });

  test('truncation then TCP retry; +bufsize makes it fit over UDP', async () => {
    const r = await dig('+noedns', 'big.hamburger.edu', 'TXT');
    assert.match(r.out, /Truncated, retrying in TCP mode/);
    assert.match(r.out, /ANSWER: 30/);
    const ign = await dig('+noedns', '+ignore', 'big.hamburger.edu', 'TXT');
    assert.match(ign.out, /flags: qr aa tc/);
    const mid = await dig('+noedns', '+ignore', 'mid.hamburger.edu', 'TXT');
    assert.match(mid.out, /flags: qr aa tc/, 'over 512 octets without EDNS');
    const fits = await dig('+bufsize=1232', 'mid.hamburger.edu', 'TXT');
    assert.doesNotMatch(fits.out, /Truncated/);
    assert.match(fits.out, /ANSWER: 10/);
    assert.match(fits.out, /udp: 1232/);
    // We never send more than our own 1232 even when the client offers more.
    const capped = await dig('+bufsize=4096', '+ignore', 'big.hamburger.edu', 'TXT');
    assert.match(capped.out, /flags: qr aa tc/);
    assert.match(capped.out, /MSG SIZE {2}rcvd: (\d+)/);
    assert.ok(Number(/MSG SIZE {2}rcvd: (\d+)/.exec(capped.out)![1]) <= 1232);
  });

  test('dig axfr: refused without a key, complete with -y hmac-sha256, allowed to the secondary', async () => {
    const no = await dig('hamburger.edu', 'AXFR');
    assert.match(no.out, /Transfer failed/);
    const yes = await dig('-y', `hmac-sha256:upd-key:${SECRET}`, 'hamburger.edu', 'AXFR');
    assert.doesNotMatch(yes.out, /failed|tsig verify failure/i, yes.out);
    assert.match(yes.out, new RegExp(`XFR size: ${ZONE_RECORDS + 1} records`));
    assert.match(yes.out, /upd-key\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\./);
    const wrong = await dig('-y', `hmac-sha256:upd-key:${Buffer.from('wrong').toString('base64')}`, 'hamburger.edu', 'AXFR');
    assert.doesNotMatch(wrong.out, new RegExp(`XFR size: ${ZONE_RECORDS + 1}`));
    const sec = await run('dig', ['@127.0.0.1', '-p', String(port), '-b', '127.0.0.3', 'hamburger.edu', 'AXFR']);
    assert.match(sec.out, new RegExp(`XFR size: ${ZONE_RECORDS + 1} records`));
  });

  test('dig axfr -y of a large zone: many messages, every TSIG in the chain verified by dig', async () => {
    const lines = ['$ORIGIN large.test.', '$TTL 60', '@ SOA ns hm 1 1 1 1 1', '@ NS ns', 'ns A 127.0.0.1'];
    for (let i = 0; i < 3000; i++) lines.push(`h${i} TXT "${'x'.repeat(80)}"`);
    const file = join(t.dataDir, 'large.test.zone');
    writeFileSync(file, lines.join('\n') + '\n');
    assert.equal((await wharf('zone', 'import', file)).status, 0);
    await waitFor(async () => /NOERROR/.test((await dig('ns.large.test', 'A')).out));
    const r = await dig('-y', `hmac-sha256:upd-key:${SECRET}`, 'large.test', 'AXFR');
    assert.doesNotMatch(r.out, /Transfer failed|verify failure|;; .*(error|failure)/i);
    const m = /XFR size: (\d+) records \(messages (\d+)/.exec(r.out);
    assert.ok(m, r.out.slice(-500));
    assert.equal(Number(m![1]), 3004);
    assert.ok(Number(m![2]) > 5, `${m![2]} messages`);
  });

  test('nsupdate with a TSIG key adds then deletes a record; dig sees both; the secondary is notified', async () => {
    const script = (line: string) => `server 127.0.0.1 ${port}\nzone hamburger.edu.\n${line}\nsend\n`;
    const add = await run('nsupdate', ['-y', `hmac-sha256:upd-key:${SECRET}`], script('update add dyn.hamburger.edu. 120 A 127.0.0.99'));
    assert.equal(add.code, 0, add.out);
    assert.equal((await dig('dyn.hamburger.edu', 'A', '+short')).out.trim(), '127.0.0.99');
    const soa = await dig('hamburger.edu', 'SOA', '+short');
    assert.match(soa.out, / 101 /, 'serial bumped');
    await waitFor(async () => notifies.some((n) => n.serial === 101));
    const shown = await wharf('zone', 'show', 'hamburger.edu');
    assert.match(shown.stdout, /dyn\s+120\s+IN\s+A\s+127\.0\.0\.99/, 'written to the store');

    const del = await run('nsupdate', ['-y', `hmac-sha256:upd-key:${SECRET}`], script('update delete dyn.hamburger.edu. A'));
    assert.equal(del.code, 0, del.out);
    assert.match((await dig('dyn.hamburger.edu', 'A')).out, /status: NXDOMAIN/);

    const bad = await run('nsupdate', ['-y', `hmac-sha256:other-key:${SECRET}`], script('update add evil.hamburger.edu. 120 A 127.0.0.66'));
    assert.notEqual(bad.code, 0);
    const unsigned = await run('nsupdate', [], script('update add evil.hamburger.edu. 120 A 127.0.0.66'));
    assert.notEqual(unsigned.code, 0);
    assert.match(unsigned.out, /REFUSED/);
    assert.match((await dig('evil.hamburger.edu', 'A')).out, /status: NXDOMAIN/);
  });

  test('wharf zone add-record / del-record while the server runs: served after reload, serial bumped', async () => {
    const before = Number((await dig('hamburger.edu', 'SOA', '+short')).out.trim().split(/\s+/)[2]);
    const add = await wharf('zone', 'add-record', 'hamburger.edu', 'ftp 600 IN A 127.0.0.21');
    assert.equal(add.status, 0, add.stderr);
    await waitFor(async () => (await dig('ftp.hamburger.edu', 'A', '+short')).out.trim() === '127.0.0.21');
    const after = Number((await dig('hamburger.edu', 'SOA', '+short')).out.trim().split(/\s+/)[2]);
    assert.ok(after > before, `${before} -> ${after}`);
    await waitFor(async () => notifies.some((n) => n.serial === after));
    const dup = await wharf('zone', 'add-record', 'hamburger.edu', 'ftp 600 IN A 127.0.0.21');
    assert.equal(dup.status, 1);
    const bad = await wharf('zone', 'add-record', 'hamburger.edu', 'ftp 600 IN A 999.1.1.1');
    assert.equal(bad.status, 65);
    assert.match(bad.stderr, /record:1:\d+/);
    const del = await wharf('zone', 'del-record', 'hamburger.edu', 'ftp A 127.0.0.21');
    assert.equal(del.status, 0, del.stderr);
    await waitFor(async () => /NXDOMAIN/.test((await dig('ftp.hamburger.edu', 'A')).out));
    const none = await wharf('zone', 'del-record', 'hamburger.edu', 'ftp A');
    assert.equal(none.status, 1);
  });

  test('wharf zone import errors name file:line:col (exit 65); list, show and del', async () => {
    const file = join(t.dataDir, 'broken.zone');
    writeFileSync(file, '$ORIGIN broken.test.\n@ 300 IN SOA ns hm 1 1 1 1 1\n@ 300 IN NS ns\nns 300 IN A 1.2.3\n');
    const r = await wharf('zone', 'import', file);
    assert.equal(r.status, 65);
    assert.match(r.stderr, /broken\.zone:4:\d+: /);
    const noSoa = join(t.dataDir, 'nosoa.zone');
    writeFileSync(noSoa, 'www 300 IN A 127.0.0.1\n');
    const r2 = await wharf('zone', 'import', noSoa, '--name', 'nosoa.test');
    assert.equal(r2.status, 65);
    assert.match(r2.stderr, /no SOA/);

    const other = join(t.dataDir, 'crepes.fr.zone');
    writeFileSync(other, '@ 300 IN SOA ns hm 5 1 1 1 1\n@ 300 IN NS ns\nns 300 IN A 127.0.0.40\n');
    assert.equal((await wharf('zone', 'import', other)).status, 0, 'origin from the file name');
    const list = await wharf('zone', 'list');
    assert.match(list.stdout, /^crepes\.fr\.\t5$/m);
    assert.match(list.stdout, /^hamburger\.edu\.\t\d+$/m);
    await waitFor(async () => (await dig('ns.crepes.fr', 'A', '+short')).out.trim() === '127.0.0.40');
    const show = await wharf('zone', 'show', 'crepes.fr.');
    assert.match(show.stdout, /^\$ORIGIN crepes\.fr\./);
    assert.equal((await wharf('zone', 'del', 'crepes.fr')).status, 0);
    await waitFor(async () => /REFUSED/.test((await dig('ns.crepes.fr', 'A')).out));
    assert.equal((await wharf('zone', 'show', 'crepes.fr')).status, 1);
  });
});
