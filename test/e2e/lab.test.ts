// `wharf lab`: the slides' world on loopback. One lab on a random 127.N net (so this file runs
// beside any other) plays every scenario through startLab and checks the outcome and the
// slides' lines; one more lab, on another net, runs through the CLI (`wharf lab --scenario
// alice-to-bob`) and is checked by its exit status and printed transcript. A broken world
// (Bob's password changed behind the scenario's back) must make the scenario fail.
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startLab } from '../../src/lab/index.js';
import type { Lab } from '../../src/lab/index.js';
import { runWharf } from '../helpers/cli.js';

const nets = (() => {
  // 127.100-198 (console-browser.test.ts runs its lab on 127.200-249).
  const a = 100 + Math.floor(Math.random() * 98);
  return [`127.${a}`, `127.${a + 1}`];
})();
// Ports per run too: two runs of this file (src and dist) never meet.
const portBase = 20_000 + Math.floor(Math.random() * 400) * 20;
const ports = { dns: portBase, smtp: portBase + 2, submission: portBase + 3, pop3: portBase + 4, imap: portBase + 5, ftp: portBase + 6, proxy: portBase + 7, http: portBase + 8, console: portBase + 9 };

let lab: Lab;

before(async () => {
  lab = await startLab({ net: nets[0]!, ports, logStream: null });
});
after(async () => {
  await lab?.stop();
});

describe('wharf lab', () => {
  it('builds the world on loopback and describes it (addresses, accounts, passwords)', () => {
    const text = lab.describe().join('\n');
    for (const name of ['root', 'edu', 'fr', 'com', 'hamburger.edu', 'crepes.fr', 'umass.edu', 'poly.edu', 'ibm.com', 'ftp.cs.umass.edu', 'cache.poly.edu']) assert.ok(lab.instances[name], name);
    assert.match(text, /bob@hamburger\.edu password hungry/);
    assert.match(text, /alice@crepes\.fr password ketchup/);
    assert.match(text, new RegExp(`admin@hamburger\\.edu password ${lab.admin.password}`));
    for (const w of Object.values(lab.instances)) for (const b of w.bound) assert.match(b.host, new RegExp(`^${nets[0]!.replace('.', '\\.')}\\.`), `${b.service} bound ${b.host}`);
    assert.ok(lab.console || lab.consoleError, 'the console runs or says why not');
  });

  it('alice-to-bob: submission, MX lookup through root/edu/hamburger.edu, the slides\' relay, POP3 and IMAP', async () => {
    const r = await lab.runScenario('alice-to-bob');
    assert.equal(r.ok, true, `${r.reason}\n${r.transcript.join('\n')}`);
    const t = r.transcript;
    const relay = t.slice(t.findIndex((l) => l.startsWith('== crepes.fr relays')));
    assert.match(relay[2]!, /^S: 220 hamburger\.edu/);
    assert.equal(relay[3], 'C: HELO crepes.fr');
    assert.ok(relay.includes('C: MAIL FROM:<alice@crepes.fr>'));
    assert.ok(relay.includes('C: RCPT TO:<bob@hamburger.edu>'));
    assert.ok(relay.includes('S: 221 hamburger.edu closing connection'));
    for (const l of ['C: user bob', 'C: pass ****', 'C: list', 'C: quit', 'S: +OK POP3 server signing off']) assert.ok(t.includes(l), l);
    assert.ok(t.some((l) => /^C: retr \d+$/.test(l)));
    assert.ok(t.some((l) => /^C: a3 FETCH \d+ BODY\[\]$/.test(l)));
    assert.ok(!t.some((l) => l.includes('hungry') || l.includes('ketchup ')), 'passwords are not in the transcript');
    const servers = r.dns.filter((s) => s.text.startsWith('hamburger.edu. MX')).map((s) => s.to);
    assert.deepEqual(servers, ['a.root-servers.net', 'a.edu-servers.net', 'dns.hamburger.edu']);
  });

  it('the console shows every lab instance and the relay session to its admin', async (ctx) => {
    if (!lab.console) return ctx.skip(`console not running: ${lab.consoleError}`);
    const base = `http://${lab.console.host}:${lab.console.port}`;
    assert.equal((await fetch(`${base}/api/sources`)).status, 401, 'no session, no data');
    const login = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: lab.admin.address, password: lab.admin.password }) });
    assert.equal(login.status, 200);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    const sources = (await (await fetch(`${base}/api/sources`, { headers: { cookie } })).json()) as { name: string }[];
    assert.deepEqual(sources.map((s) => s.name).sort(), Object.keys(lab.instances).sort());
    const t = (await (await fetch(`${base}/api/transcripts?source=hamburger.edu&service=smtp`, { headers: { cookie } })).json()) as { lines: { dir: string; text: string }[] };
    assert.ok(t.lines.some((l) => l.dir === 'C' && l.text === 'HELO crepes.fr'), 'the relay session is in the console');
  });

  it('dns-iterated: 8 steps, root, TLD and dns.cs.umass.edu asked in turn', async () => {
    const r = await lab.runScenario('dns-iterated');
    assert.equal(r.ok, true, r.reason);
    assert.equal(r.dns.length, 8);
    assert.deepEqual(
      r.dns.map((s) => `${s.from}>${s.to}`),
      ['cis.poly.edu>dns.poly.edu', 'dns.poly.edu>a.root-servers.net', 'a.root-servers.net>dns.poly.edu', 'dns.poly.edu>a.edu-servers.net', 'a.edu-servers.net>dns.poly.edu', 'dns.poly.edu>dns.cs.umass.edu', 'dns.cs.umass.edu>dns.poly.edu', 'dns.poly.edu>cis.poly.edu'],
    );
    assert.match(r.dns[7]!.text, new RegExp(`gaia\\.cs\\.umass\\.edu\\. A ${nets[0]!.replace('.', '\\.')}\\.4\\.10`));
    // Played again at once: the path is shown again (the lab waits out its short TTLs).
    const again = await lab.runScenario('dns-iterated');
    assert.equal(again.ok, true, again.reason);
  });

  it('dns-recursive: the query goes down root → TLD → authoritative and the answer comes back up', async () => {
    const traces: { resolution: string; serverName?: string }[] = [];
    const off = lab.instances['poly.edu']!.bus.on('dns-trace', (e) => traces.push(e));
    const r = await lab.runScenario('dns-recursive');
    off();
    assert.equal(r.ok, true, r.reason);
    // The console gets the chain as one resolution at dns.poly.edu, one step per server passed.
    const chain = traces.filter((t) => t.resolution.startsWith('chain'));
    assert.deepEqual(chain.map((t) => t.serverName), ['a.root-servers.net', 'a.edu-servers.net', 'dns.cs.umass.edu']);
    assert.equal(new Set(chain.map((t) => t.resolution)).size, 1);
    assert.deepEqual(
      r.dns.map((s) => `${s.from}>${s.to}`),
      ['cis.poly.edu>dns.poly.edu', 'dns.poly.edu>a.root-servers.net', 'a.root-servers.net>a.edu-servers.net', 'a.edu-servers.net>dns.cs.umass.edu', 'dns.cs.umass.edu>a.edu-servers.net', 'a.edu-servers.net>a.root-servers.net', 'a.root-servers.net>dns.poly.edu', 'dns.poly.edu>cis.poly.edu'],
    );
  });

  it('ftp-session: login, PWD, CWD, STOR, LIST, RETR, QUIT over passive data connections', async () => {
    const r = await lab.runScenario('ftp-session');
    assert.equal(r.ok, true, r.reason);
    const verbs = r.transcript.filter((l) => l.startsWith('C: ')).map((l) => l.slice(3).split(' ')[0]);
    assert.deepEqual(verbs, ['USER', 'PASS', 'PWD', 'CWD', 'TYPE', 'PASV', 'STOR', 'PASV', 'LIST', 'PASV', 'RETR', 'QUIT']);
    assert.ok(r.transcript.includes('C: PASS ****'));
    assert.ok(r.transcript.some((l) => /came back byte for byte/.test(l)));
  });

  it('web-cache: a miss, a hit the origin never sees, a revalidation answered 304', async () => {
    const before = lab.origin.log.length;
    const r = await lab.runScenario('web-cache');
    assert.equal(r.ok, true, r.reason);
    const seen = lab.origin.log.slice(before);
    assert.deepEqual(seen.map((x) => x.status), [200, 304], 'the origin saw the miss and the revalidation only');
    assert.ok(r.transcript.some((l) => /^S: Cache-Status: .*; hit/.test(l)));
    assert.ok(r.transcript.some((l) => /^S: Cache-Status: .*fwd=stale; fwd-status=304/.test(l)));
  });

  it('a scenario fails, with a reason, when the world is not as the slides say', async () => {
    const bob = lab.world.accounts.bob;
    const hamburger = lab.instances['hamburger.edu']!;
    await hamburger.accounts.setPassword(bob.address, 'not-hungry');
    try {
      const r = await lab.runScenario('alice-to-bob');
      assert.equal(r.ok, false);
      assert.match(r.reason ?? '', /pass/);
    } finally {
      await hamburger.accounts.setPassword(bob.address, bob.password);
    }
  });

  it('`wharf lab --scenario alice-to-bob` prints the slides\' transcript and exits 0; an unknown scenario exits 2', async () => {
    const p = (n: number) => String(portBase + 10 + n);
    const res = await runWharf(['lab', '--net', nets[1]!, '--no-console', '--scenario', 'alice-to-bob', '--port', `dns=${p(0)}`, '--port', `smtp=${p(2)}`, '--port', `submission=${p(3)}`, '--port', `pop3=${p(4)}`, '--port', `imap=${p(5)}`, '--port', `ftp=${p(6)}`, '--port', `proxy=${p(7)}`, '--port', `http=${p(8)}`], { timeoutMs: 60_000 });
    assert.equal(res.status, 0, `${res.stdout}\n${res.stderr}`);
    const lines = res.stdout.split('\n');
    for (const l of ['C: HELO crepes.fr', 'S: 221 hamburger.edu closing connection', 'C: user bob', 'scenario alice-to-bob: ok']) assert.ok(lines.some((x) => x.startsWith(l)), l);
    assert.ok(lines.some((x) => x.startsWith('S: 220 hamburger.edu')));
    const dataLine = lines.find((l) => l.startsWith('The slides\' world'))!;
    const dir = /data in (\S+)/.exec(dataLine)?.[1];
    assert.ok(dir && !existsSync(dir), 'the temporary data folder is removed at exit');
    const bad = await runWharf(['lab', '--scenario', 'no-such-scenario']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /no scenario "no-such-scenario"/);
  });
});
