// The console's HTTP API end to end over real sockets: auth on every route (the route table is
// iterated, so a new route cannot escape the check), sessions and tokens (including the CLI),
// CSRF content-type rule, admin views (domains, users, zones, queue, mailboxes, messages),
// live data (transcripts, sessions, SSE, counters, /metrics), bad input, several sources.
import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mayUseSecrets, startConsole } from '../../src/console/index.js';
import type { RunningConsole } from '../../src/console/index.js';
import { routes } from '../../src/console/routes.js';
import { tokensFile } from '../../src/console/auth.js';
import { startTestWharf } from '../helpers/instance.js';
import type { TestWharf } from '../helpers/instance.js';
import { repoRoot, runWharf } from '../helpers/cli.js';
import { deliverRaw, waitFor } from '../helpers/mail.js';

const ADMIN = 'admin@hamburger.edu';
const BOB = 'bob@hamburger.edu';

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: () => any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

function call(port: number, method: string, path: string, opts: { headers?: Record<string, string>; body?: string | Buffer; json?: unknown } = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...opts.headers };
    let body = opts.body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers['Content-Type'] ??= 'application/json';
    }
    if (body !== undefined) headers['Content-Length'] = Buffer.byteLength(body);
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      if ((res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
        res.destroy();
        resolve({ status: res.statusCode!, headers: res.headers, text: '', json: () => null });
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode!, headers: res.headers, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A route's path with every :param filled. */
const fill = (path: string): string => path.replace(/:[a-z]+/g, 'x');

/** A POP3 conversation, so transcripts and counters have something to show. */
async function pop3Hello(port: number): Promise<void> {
  const s = net.connect(port, '127.0.0.1');
  let buf = '';
  s.setEncoding('utf8').on('data', (d: string) => (buf += d));
  await waitFor(async () => buf.includes('+OK'));
  s.write('CAPA\r\n');
  await waitFor(async () => buf.includes('\r\n.\r\n'));
  s.write('QUIT\r\n');
  await new Promise((r) => s.on('close', r));
}

const MULTIPART = [
  'From: Alice <alice@crepes.fr>',
  'To: bob@hamburger.edu',
  'Subject: =?UTF-8?Q?cr=C3=AApes?=',
  'Date: Mon, 23 Nov 2026 10:00:00 +0000',
  'Message-ID: <m1@crepes.fr>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b1"',
  '',
  '--b1',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Hello <script>alert(1)</script>',
  '--b1',
  'Content-Type: application/pdf; name="menu.pdf"',
  'Content-Disposition: attachment; filename="menu.pdf"',
  'Content-Transfer-Encoding: base64',
  '',
  'JVBERi0xLjQK',
  '--b1--',
  '',
].join('\r\n');

describe('console admin API', () => {
  let t: TestWharf;
  let port: number;
  let cookie: string;
  let token: string;

  before(async () => {
    t = await startTestWharf({
      services: ['console', 'pop3'],
      users: [[ADMIN, 'secret-admin'], [BOB, 'hungry']],
      domains: ['crepes.fr'],
      set: { 'auth.throttle.free_attempts': 1000, 'console.max_body': 64 * 1024 },
    });
    await t.wharf.store.updateAccount(ADMIN, { admin: true });
    port = t.port('console');
    const r = await call(port, 'POST', '/api/login', { json: { username: ADMIN, password: 'secret-admin' } });
    assert.equal(r.status, 200, r.text);
    cookie = r.headers['set-cookie']![0]!.split(';')[0]!;
    const tk = await call(port, 'POST', '/api/tokens', { headers: { Cookie: cookie }, json: { name: 'tests' } });
    assert.equal(tk.status, 201, tk.text);
    token = tk.json().token;
  });
  after(async () => {
    await t?.stop();
  });

  const auth = (): Record<string, string> => ({ Authorization: `Bearer ${token}` });

  describe('every /api route but POST /api/login refuses without a valid session or token', () => {
    const guarded = routes.filter((r) => !r.public);
    it('only POST /api/login is public', () => {
      assert.deepEqual(
        routes.filter((r) => r.public).map((r) => `${r.method} ${r.path}`),
        ['POST /api/login'],
      );
      assert.ok(guarded.length >= 30, `the table has the contract's routes (${guarded.length})`);
    });

    const refusals: [string, () => Promise<Record<string, string>>][] = [
      ['no credentials', async () => ({})],
      ['an unknown bearer token', async () => ({ Authorization: 'Bearer wharf_' + 'A'.repeat(43) })],
      ['a malformed Authorization header', async () => ({ Authorization: 'Basic YWRtaW46eA==' })],
      ['a forged session cookie', async () => ({ Cookie: 'wharf_session=' + 'A'.repeat(43) })],
      [
        'a revoked token',
        async () => {
          const made = await call(port, 'POST', '/api/tokens', { headers: auth(), json: { name: `gone-${Math.random().toString(36).slice(2)}` } });
          const tok = made.json().token as string;
          assert.equal((await call(port, 'GET', '/api/me', { headers: { Authorization: `Bearer ${tok}` } })).status, 200);
          const names = (await call(port, 'GET', '/api/tokens', { headers: auth() })).json() as { name: string }[];
          const name = names.map((n) => n.name).find((n) => n.startsWith('gone-'))!;
          assert.equal((await call(port, 'DELETE', `/api/tokens/${name}`, { headers: auth() })).status, 204);
          return { Authorization: `Bearer ${tok}` };
        },
      ],
      [
        'a logged-out session',
        async () => {
          const r = await call(port, 'POST', '/api/login', { json: { username: ADMIN, password: 'secret-admin' } });
          const c = r.headers['set-cookie']![0]!.split(';')[0]!;
          assert.equal((await call(port, 'GET', '/api/me', { headers: { Cookie: c } })).status, 200);
          assert.equal((await call(port, 'POST', '/api/logout', { headers: { Cookie: c, 'Content-Type': 'application/json' } })).status, 204);
          return { Cookie: c };
        },
      ],
    ];
    for (const [what, make] of refusals) {
      it(`with ${what}: 401 on each route`, async () => {
        const headers = await make();
        for (const r of guarded) {
          const res = await call(port, r.method, fill(r.path), { headers: { ...headers, 'Content-Type': 'application/json' }, body: '{}' });
          assert.equal(res.status, 401, `${r.method} ${r.path} answered ${res.status}`);
          assert.equal(typeof res.json().error, 'string');
        }
        // unknown /api paths too, before routing
        assert.equal((await call(port, 'GET', '/api/nothing-here', { headers })).status, 401);
      });
    }

    it('with an expired session: 401 on each route', async () => {
      const c2 = await startConsole({ host: '127.0.0.1', port: 0, sources: [{ name: 'w', wharf: t.wharf }], authority: t.wharf, transcriptBuffer: 10, logger: t.wharf.logger, sessionTtlMs: 150 });
      try {
        const r = await call(c2.port, 'POST', '/api/login', { json: { username: ADMIN, password: 'secret-admin' } });
        const c = r.headers['set-cookie']![0]!.split(';')[0]!;
        assert.equal((await call(c2.port, 'GET', '/api/me', { headers: { Cookie: c } })).status, 200);
        await new Promise((res) => setTimeout(res, 300));
        for (const route of guarded) {
          const res = await call(c2.port, route.method, fill(route.path), { headers: { Cookie: c, 'Content-Type': 'application/json' }, body: '{}' });
          assert.equal(res.status, 401, `${route.method} ${route.path} answered ${res.status}`);
        }
      } finally {
        await c2.stop();
      }
    });

    it('with a valid token no route answers 401 (the check above is not vacuous)', async () => {
      for (const r of guarded) {
        if (r.path === '/api/logout' || r.path.startsWith('/api/tokens')) continue;
        const res = await call(port, r.method, fill(r.path), { headers: { ...auth(), 'Content-Type': 'application/json' }, body: '{}' });
        assert.notEqual(res.status, 401, `${r.method} ${r.path}`);
        assert.ok(res.status < 500, `${r.method} ${r.path} answered ${res.status}: ${res.text}`);
      }
    });
  });

  describe('login', () => {
    it('sets an HttpOnly SameSite=Strict cookie with a 32-byte random id; /api/me names the admin', async () => {
      const r = await call(port, 'POST', '/api/login', { json: { username: ADMIN, password: 'secret-admin' } });
      assert.equal(r.status, 200);
      assert.deepEqual(r.json(), { user: ADMIN });
      const sc = r.headers['set-cookie']![0]!;
      assert.match(sc, /^wharf_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\//);
      const me = await call(port, 'GET', '/api/me', { headers: { Cookie: sc.split(';')[0]! } });
      assert.equal(me.json().user, ADMIN);
    });
    it('a session ends when its account stops being an admin', async () => {
      await t.wharf.accounts.addUser('temp@hamburger.edu', 'pw-temp', { admin: true });
      const r = await call(port, 'POST', '/api/login', { json: { username: 'temp@hamburger.edu', password: 'pw-temp' } });
      const c = r.headers['set-cookie']![0]!.split(';')[0]!;
      assert.equal((await call(port, 'GET', '/api/me', { headers: { Cookie: c } })).status, 200);
      await t.wharf.store.updateAccount('temp@hamburger.edu', { admin: false });
      assert.equal((await call(port, 'GET', '/api/me', { headers: { Cookie: c } })).status, 401);
      await t.wharf.store.updateAccount('temp@hamburger.edu', { admin: true });
      assert.equal((await call(port, 'GET', '/api/me', { headers: { Cookie: c } })).status, 401, 'the session was dropped, not suspended');
      await t.wharf.accounts.deleteUser('temp@hamburger.edu');
    });
    it('refuses a wrong password (401) and a non-admin account (403), same body shape', async () => {
      const bad = await call(port, 'POST', '/api/login', { json: { username: ADMIN, password: 'nope' } });
      assert.equal(bad.status, 401);
      assert.equal(typeof bad.json().error, 'string');
      assert.equal(bad.headers['set-cookie'], undefined);
      const bob = await call(port, 'POST', '/api/login', { json: { username: BOB, password: 'hungry' } });
      assert.equal(bob.status, 403);
      assert.deepEqual(Object.keys(bob.json()), ['error']);
      assert.equal(bob.headers['set-cookie'], undefined);
    });
    it('wants JSON: a form post is 415, a body that is not JSON 400, missing fields 400', async () => {
      assert.equal((await call(port, 'POST', '/api/login', { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'username=a&password=b' })).status, 415);
      assert.equal((await call(port, 'POST', '/api/login', { headers: { 'Content-Type': 'application/json' }, body: '{"username":' })).status, 400);
      assert.equal((await call(port, 'POST', '/api/login', { json: { username: ADMIN } })).status, 400);
    });
  });

  describe('CSRF rule', () => {
    it('an unsafe method under a cookie session needs Content-Type: application/json (415 otherwise)', async () => {
      const plain = await call(port, 'POST', '/api/domains', { headers: { Cookie: cookie, 'Content-Type': 'text/plain' }, body: '{"name":"csrf.example"}' });
      assert.equal(plain.status, 415);
      const none = await call(port, 'DELETE', '/api/domains/crepes.fr', { headers: { Cookie: cookie } });
      assert.equal(none.status, 415);
      assert.ok(await t.wharf.store.getDomain('crepes.fr'), 'nothing was deleted');
      assert.equal(await t.wharf.store.getDomain('csrf.example'), null);
      const good = await call(port, 'POST', '/api/domains', { headers: { Cookie: cookie }, json: { name: 'csrf.example' } });
      assert.equal(good.status, 201, good.text);
    });
    it('a bearer token is not a browser credential: no content type needed', async () => {
      assert.equal((await call(port, 'DELETE', '/api/domains/csrf.example', { headers: auth() })).status, 204);
    });
  });

  describe('tokens', () => {
    it('are listed by name only and stored hashed', async () => {
      const list = (await call(port, 'GET', '/api/tokens', { headers: auth() })).json() as Record<string, unknown>[];
      assert.ok(list.some((x) => x.name === 'tests'));
      for (const x of list) assert.deepEqual(Object.keys(x).sort(), ['created', 'name']);
      const onDisk = readFileSync(tokensFile(t.dataDir), 'utf8');
      assert.ok(!onDisk.includes(token.slice(6)));
      assert.equal((await call(port, 'POST', '/api/tokens', { headers: auth(), json: { name: 'tests' } })).status, 409);
      assert.equal((await call(port, 'POST', '/api/tokens', { headers: auth(), json: { name: 'no spaces' } })).status, 400);
    });
    it('`wharf console token NAME` makes one a running console accepts; `console revoke` ends it', async () => {
      const made = await runWharf(['--data', t.dataDir, 'console', 'token', 'cli-made']);
      assert.equal(made.status, 0, made.stderr);
      const tok = made.stdout.trim();
      assert.match(tok, /^wharf_/);
      const me = await call(port, 'GET', '/api/me', { headers: { Authorization: `Bearer ${tok}` } });
      assert.equal(me.status, 200);
      assert.equal(me.json().user, 'token:cli-made');
      const listed = await runWharf(['--data', t.dataDir, 'console', 'tokens']);
      assert.match(listed.stdout, /^cli-made\t/m);
      assert.ok(!listed.stdout.includes(tok));
      const rev = await runWharf(['--data', t.dataDir, 'console', 'revoke', 'cli-made']);
      assert.equal(rev.status, 0, rev.stderr);
      assert.equal((await call(port, 'GET', '/api/me', { headers: { Authorization: `Bearer ${tok}` } })).status, 401);
    });
  });

  describe('bad input', () => {
    it('malformed JSON 400, non-object JSON 400, unknown route 404, wrong method 405, huge body 413; the server keeps serving', async () => {
      const h = auth();
      assert.equal((await call(port, 'POST', '/api/domains', { headers: { ...h, 'Content-Type': 'application/json' }, body: '{"name": "x' })).status, 400);
      assert.equal((await call(port, 'POST', '/api/domains', { headers: h, json: ['a'] })).status, 400);
      const unknown = await call(port, 'GET', '/api/nothing-here', { headers: h });
      assert.equal(unknown.status, 404);
      assert.equal(typeof unknown.json().error, 'string');
      const wrong = await call(port, 'PUT', '/api/domains', { headers: h, json: {} });
      assert.equal(wrong.status, 405);
      const huge = await call(port, 'POST', '/api/zones', { headers: h, json: { text: 'x'.repeat(200 * 1024) } }).catch((e: Error) => ({ status: -1, text: e.message }));
      assert.equal(huge.status, 413, huge.text);
      // without a Content-Length: cut off once past the limit
      const chunked = await new Promise<number>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/api/zones', agent: false, headers: { ...h, 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
        let n = 0;
        const more = (): void => {
          if (n++ < 40) req.write('x'.repeat(4096), () => setImmediate(more));
          else req.end();
        };
        more();
      });
      assert.equal(chunked, 413);
      const me = await call(port, 'GET', '/api/me', { headers: h });
      assert.equal(me.status, 200);
    });
    it('path traversal under /static/ is a 404', async () => {
      for (const p of ['/static/../index.ts', '/static/%2e%2e/index.ts', '/static/..%2f..%2fpackage.json', '/static/%2e%2e%2f%2e%2e%2f%2e%2e%2fpackage.json', '/static/.hidden.js', '/static/a%00.js', '/static/..\\..\\x.js', '/static/%E0%A4%A']) {
        const r = await call(port, 'GET', p);
        assert.equal(r.status, 404, `${p} → ${r.status}`);
        assert.ok(!r.text.includes('startConsole') && !r.text.includes('"name": "wharf"'));
      }
      assert.equal((await call(port, 'GET', '/api/me', { headers: auth() })).status, 200);
    });
    it('errors carry no stack trace', async () => {
      const r = await call(port, 'GET', '/api/mailboxes/abc/messages/1', { headers: auth() });
      assert.equal(r.status, 404);
      assert.ok(!/at .*\.(ts|js):\d+/.test(r.text));
    });
  });

  describe('the page', () => {
    it('/ is public HTML with the contract\'s security headers', async () => {
      const r = await call(port, 'GET', '/');
      assert.equal(r.status, 200);
      assert.match(r.headers['content-type']!, /^text\/html/);
      assert.equal(r.headers['content-security-policy'], "default-src 'self'; img-src 'self' data:; style-src 'self'");
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
      assert.equal(r.headers['x-frame-options'], 'DENY');
      assert.equal(r.headers['referrer-policy'], 'no-referrer');
    });
    it('serves src/console/static both under tsx and from dist/ (static files are not compiled)', async () => {
      const dir = join(repoRoot, 'src', 'console', 'static');
      if (!existsSync(join(dir, 'index.html'))) return;
      assert.equal((await call(port, 'GET', '/')).text, readFileSync(join(dir, 'index.html'), 'utf8'));
      for (const f of readdirSync(dir).filter((n) => /\.(js|css)$/.test(n))) {
        const r = await call(port, 'GET', `/static/${f}`);
        assert.equal(r.status, 200, f);
        assert.match(r.headers['content-type']!, f.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
        assert.equal(r.text, readFileSync(join(dir, f), 'utf8'));
      }
      assert.equal((await call(port, 'GET', '/static/nothing.js')).status, 404);
    });
  });

  describe('domains and users', () => {
    it('add, list, password, delete', async () => {
      const h = auth();
      assert.equal((await call(port, 'POST', '/api/domains', { headers: h, json: { name: 'Example.ORG' } })).status, 201);
      assert.ok(((await call(port, 'GET', '/api/domains', { headers: h })).json() as { name: string }[]).some((d) => d.name === 'example.org'));
      assert.equal((await call(port, 'POST', '/api/domains', { headers: h, json: { name: 'example.org' } })).status, 409);
      assert.equal((await call(port, 'POST', '/api/domains', { headers: h, json: { name: 'not a domain' } })).status, 400);
      const u = await call(port, 'POST', '/api/users', { headers: h, json: { address: 'carol@example.org', password: 'pw1' } });
      assert.equal(u.status, 201, u.text);
      assert.deepEqual(u.json(), { address: 'carol@example.org', admin: false, disabled: false });
      assert.equal((await call(port, 'POST', '/api/users', { headers: h, json: { address: 'dan@nowhere.test', password: 'x' } })).status, 400);
      const users = (await call(port, 'GET', '/api/users?domain=example.org', { headers: h })).json();
      assert.deepEqual(users, [{ address: 'carol@example.org', admin: false, disabled: false }]);
      assert.equal((await call(port, 'POST', `/api/users/${encodeURIComponent('carol@example.org')}/password`, { headers: h, json: { password: 'pw2' } })).status, 204);
      const ok = await t.wharf.authenticator.authenticate({ username: 'carol@example.org', password: 'pw2', remote: '127.0.0.9' });
      assert.equal(ok.ok, true);
      assert.equal((await call(port, 'DELETE', '/api/domains/example.org', { headers: h })).status, 409, 'not empty');
      assert.equal((await call(port, 'DELETE', '/api/users/carol@example.org', { headers: h })).status, 204);
      assert.equal((await call(port, 'DELETE', '/api/users/carol@example.org', { headers: h })).status, 404);
      assert.equal((await call(port, 'DELETE', '/api/domains/example.org', { headers: h })).status, 204);
    });
  });

  describe('zones', () => {
    const ZONE = '$ORIGIN zone.test.\n$TTL 3600\n@ IN SOA ns1 hostmaster 2026010101 3600 600 86400 300\n@ IN NS ns1\nns1 IN A 127.0.0.1\nwww IN A 127.0.0.2\n';
    it('import, show, add and delete records (serial bumped), delete', async () => {
      const h = auth();
      const imp = await call(port, 'POST', '/api/zones', { headers: h, json: { text: ZONE } });
      assert.equal(imp.status, 201, imp.text);
      assert.deepEqual(imp.json(), { name: 'zone.test.', serial: 2026010101, records: 4 });
      assert.deepEqual((await call(port, 'GET', '/api/zones', { headers: h })).json(), [{ name: 'zone.test.', serial: 2026010101 }]);
      const show = (await call(port, 'GET', '/api/zones/zone.test', { headers: h })).json();
      assert.equal(show.name, 'zone.test.');
      assert.ok(show.records.some((r: { name: string; type: string; data: string }) => r.name === 'www.zone.test.' && r.type === 'A' && r.data === '127.0.0.2'));
      const add = await call(port, 'POST', '/api/zones/zone.test./records', { headers: h, json: { name: 'mail', ttl: 300, type: 'MX', data: '10 ns1' } });
      assert.equal(add.status, 201, add.text);
      const s1 = add.json().serial as number;
      assert.ok(s1 > 2026010101);
      assert.equal((await call(port, 'POST', '/api/zones/zone.test./records', { headers: h, json: { name: 'mail', ttl: 300, type: 'MX', data: '10 ns1' } })).status, 409);
      const inject = await call(port, 'POST', '/api/zones/zone.test./records', { headers: h, json: { name: 'x', type: 'A', data: '127.0.0.1\n$INCLUDE /etc/passwd' } });
      assert.equal(inject.status, 400);
      const del = await call(port, 'DELETE', '/api/zones/zone.test./records', { headers: h, json: { name: 'www', type: 'A' } });
      assert.equal(del.status, 200, del.text);
      assert.equal(del.json().deleted, 1);
      assert.ok(del.json().serial > s1);
      assert.equal((await call(port, 'DELETE', '/api/zones/zone.test./records', { headers: h, json: { name: 'www', type: 'A' } })).status, 404);
      const row = await t.wharf.store.getZone('zone.test.');
      assert.ok(row!.text.includes('MX') && !/^www/m.test(row!.text));
      assert.equal((await call(port, 'DELETE', '/api/zones/zone.test', { headers: h })).status, 204);
      assert.equal((await call(port, 'GET', '/api/zones/zone.test', { headers: h })).status, 404);
    });
    it('a master file that does not parse is a 400 naming line and column', async () => {
      const r = await call(port, 'POST', '/api/zones', { headers: auth(), json: { text: '$ORIGIN bad.test.\n@ IN SOA ns1 hm 1 2 3 4 5\nwww IN A 999.1.1.1\n' } });
      assert.equal(r.status, 400);
      const e = r.json();
      assert.equal(e.line, 3);
      assert.equal(typeof e.column, 'number');
      assert.equal(await t.wharf.store.getZone('bad.test.'), null);
    });
  });

  describe('queue', () => {
    it('list, show, retry, delete (like wharf queue)', async () => {
      const h = auth();
      const blob = await t.wharf.store.blobs.put(Buffer.from('Subject: queued\r\nFrom: bob@hamburger.edu\r\n\r\nhi\r\n'));
      const id = await t.wharf.store.enqueue({ sender: BOB, blobId: blob.id, size: blob.size, recipients: [{ address: 'x@far.example' }], notBefore: new Date(Date.now() + 3_600_000) });
      const list = (await call(port, 'GET', '/api/queue', { headers: h })).json();
      const row = list.find((m: { id: number }) => m.id === id);
      assert.deepEqual({ from: row.from, to: row.to, domain: row.domain, attempts: row.attempts }, { from: BOB, to: ['x@far.example'], domain: 'far.example', attempts: 0 });
      const show = (await call(port, 'GET', `/api/queue/${id}`, { headers: h })).json();
      assert.match(show.header, /Subject: queued/);
      assert.equal((await call(port, 'POST', `/api/queue/${id}/retry`, { headers: h })).status, 200);
      const due = await t.wharf.store.getQueueMessage(id);
      assert.ok(due!.jobs[0]!.nextAttemptAt.getTime() <= Date.now() + 1000);
      assert.equal((await call(port, 'DELETE', `/api/queue/${id}`, { headers: h })).status, 204);
      assert.equal((await call(port, 'GET', `/api/queue/${id}`, { headers: h })).status, 404);
      assert.equal((await call(port, 'POST', '/api/queue/99999/retry', { headers: h })).status, 404);
    });
  });

  describe('mailboxes and messages', () => {
    it('mailboxes of a user, a page of messages, one message with headers and MIME tree, the raw source as sandboxed text', async () => {
      const h = auth();
      const [uid] = await deliverRaw(t.wharf, BOB, MULTIPART);
      const boxes = (await call(port, 'GET', `/api/mailboxes?user=${encodeURIComponent(BOB)}`, { headers: h })).json();
      const inbox = boxes.find((b: { name: string }) => b.name === 'INBOX');
      assert.ok(inbox.messages >= 1 && inbox.unseen >= 1);
      assert.ok(boxes.some((b: { specialUse: string | null }) => b.specialUse === '\\Sent'));
      const page = (await call(port, 'GET', `/api/mailboxes/${inbox.id}/messages?limit=10`, { headers: h })).json();
      assert.equal(page.messages[0].uid, uid, 'newest first');
      assert.equal(page.messages[0].subject, 'crêpes');
      assert.match(page.messages[0].from, /alice@crepes\.fr/);
      const m = (await call(port, 'GET', `/api/mailboxes/${inbox.id}/messages/${uid}`, { headers: h })).json();
      assert.ok(m.headers.some(([n, v]: [string, string]) => n === 'Subject' && v === '=?UTF-8?Q?cr=C3=AApes?='));
      assert.ok(m.headers.some(([n]: [string]) => n === 'Delivered-To'), 'the delivery prefix is part of the header');
      assert.equal(`${m.mime.type}/${m.mime.subtype}`, 'multipart/mixed');
      assert.equal(m.mime.parts.length, 2);
      assert.equal(m.mime.parts[0].subtype, 'plain');
      assert.equal(typeof m.mime.parts[0].lines, 'number');
      assert.equal(m.mime.parts[1].filename, 'menu.pdf');
      const raw = await call(port, 'GET', `/api/mailboxes/${inbox.id}/messages/${uid}/raw`, { headers: h });
      assert.equal(raw.status, 200);
      assert.equal(raw.headers['content-type'], 'text/plain; charset=utf-8');
      assert.equal(raw.headers['content-security-policy'], 'sandbox');
      assert.equal(raw.headers['x-content-type-options'], 'nosniff');
      assert.equal(raw.headers['content-disposition'], 'inline');
      assert.ok(raw.text.includes('Hello <script>alert(1)</script>'));
      assert.ok(raw.text.startsWith('Return-Path:'));
      assert.equal((await call(port, 'GET', `/api/mailboxes/${inbox.id}/messages/999999`, { headers: h })).status, 404);
      assert.equal((await call(port, 'GET', '/api/mailboxes?user=nobody@nowhere.test', { headers: h })).status, 404);
    });
  });

  describe('live data', () => {
    it('transcripts, sessions, counters and /metrics see a POP3 session', async () => {
      const h = auth();
      await pop3Hello(t.port('pop3'));
      const lines = (await call(port, 'GET', '/api/transcripts?service=pop3', { headers: h })).json().lines;
      assert.ok(lines.some((l: { dir: string; text: string; source: string }) => l.dir === 'C' && l.text === 'CAPA' && l.source === 'wharf.test'));
      const sessions = (await call(port, 'GET', '/api/sessions?service=pop3', { headers: h })).json();
      assert.ok(sessions.length >= 1);
      assert.equal(sessions[0].source, 'wharf.test');
      assert.ok(sessions[0].lines >= 3);
      const session = sessions[0].session as string;
      const only = (await call(port, 'GET', `/api/transcripts?session=${session}&limit=2`, { headers: h })).json().lines;
      assert.equal(only.length, 2);
      assert.ok(only.every((l: { session: string }) => l.session === session));
      const counters = await waitFor(async () => {
        const c = (await call(port, 'GET', '/api/counters', { headers: h })).json();
        return c.sources['wharf.test'].pop3?.active === 0 ? c : null;
      });
      assert.ok(counters.sources['wharf.test'].pop3.connections >= 1);
      const metrics = await call(port, 'GET', '/metrics');
      assert.equal(metrics.status, 200, 'open by default');
      assert.match(metrics.headers['content-type']!, /^text\/plain; version=0\.0\.4/);
      assert.match(metrics.text, /^# TYPE wharf_connections_total counter$/m);
      assert.match(metrics.text, /^wharf_connections_total\{source="wharf\.test",service="pop3"\} [1-9]\d*$/m);
      assert.match(metrics.text, /^wharf_connections_active\{source="wharf\.test",service="pop3"\} 0$/m);
      assert.match(metrics.text, /^wharf_transcript_lines_total\{source="wharf\.test",service="pop3"\} [1-9]\d*$/m);
      assert.match(metrics.text, /^process_resident_memory_bytes \d+$/m);
      assert.match(metrics.text, /^process_start_time_seconds [\d.]+$/m);
      // every non-comment line is `name{labels} value`
      for (const l of metrics.text.trimEnd().split('\n')) if (!l.startsWith('#')) assert.match(l, /^[a-z_]+(\{[a-z]+="[^"]*"(,[a-z]+="[^"]*")*\})? -?[\d.e+]+$/, l);
    });

    it('the SSE feed replays matching lines, streams new ones, and forgets a client that leaves', async () => {
      const got: string[] = [];
      const req = http.request({ host: '127.0.0.1', port, path: '/api/events?service=pop3', headers: auth(), agent: false });
      const res = await new Promise<http.IncomingMessage>((r) => req.on('response', r).end());
      assert.equal(res.statusCode, 200);
      assert.match(res.headers['content-type']!, /^text\/event-stream/);
      res.setEncoding('utf8').on('data', (d: string) => got.push(d));
      await waitFor(async () => got.join('').includes('event: transcript'));
      const before = got.join('').split('event: transcript').length;
      await pop3Hello(t.port('pop3'));
      await waitFor(async () => got.join('').split('event: transcript').length > before + 3);
      const events = got.join('').split('\n\n').filter((e) => e.startsWith('event: transcript'));
      for (const e of events) {
        const data = JSON.parse(e.slice(e.indexOf('data: ') + 6));
        assert.equal(data.service, 'pop3');
        assert.equal(data.source, 'wharf.test');
      }
      const streams = async () => Number(/^wharf_console_event_streams (\d+)$/m.exec((await call(port, 'GET', '/metrics')).text)![1]);
      assert.equal(await streams(), 1);
      res.destroy();
      await waitFor(async () => (await streams()) === 0);
    });

    it('/api/sources lists the instance and its listeners; an unknown ?source= is 404', async () => {
      const s = (await call(port, 'GET', '/api/sources', { headers: auth() })).json();
      assert.equal(s.length, 1);
      assert.equal(s[0].name, 'wharf.test');
      assert.ok(s[0].listeners.some((l: { service: string; port: number }) => l.service === 'pop3' && l.port === t.port('pop3')));
      assert.equal((await call(port, 'GET', '/api/domains?source=nope', { headers: auth() })).status, 404);
      assert.equal((await call(port, 'GET', '/api/proxy/cache', { headers: auth() })).json().enabled, false);
    });
  });
});

describe('console with several sources', () => {
  let a: TestWharf;
  let b: TestWharf;
  let c: RunningConsole;
  before(async () => {
    a = await startTestWharf({ services: ['pop3'], users: [['root@a.test', 'pw']], hostname: 'a.test' });
    b = await startTestWharf({ services: ['pop3'], users: [['bob@b.test', 'pw']], hostname: 'b.test' });
    await a.wharf.store.updateAccount('root@a.test', { admin: true });
    c = await startConsole({ host: '127.0.0.1', port: 0, sources: [{ name: 'a', wharf: a.wharf }], authority: a.wharf, transcriptBuffer: 100, logger: a.wharf.logger, metricsAuth: true });
  });
  after(async () => {
    await c?.stop();
    await a?.stop();
    await b?.stop();
  });

  it('routes ?source= to that instance; addSource() adds one later; /metrics needs auth when metrics_auth', async () => {
    const login = await call(c.port, 'POST', '/api/login', { json: { username: 'root@a.test', password: 'pw' } });
    assert.equal(login.status, 200);
    const h = { Cookie: login.headers['set-cookie']![0]!.split(';')[0]! };
    assert.equal((await call(c.port, 'GET', '/api/users?source=b', { headers: h })).status, 404);
    c.addSource({ name: 'b', wharf: b.wharf });
    const users = (await call(c.port, 'GET', '/api/users?source=b', { headers: h })).json();
    assert.deepEqual(users.map((u: { address: string }) => u.address), ['bob@b.test']);
    const own = (await call(c.port, 'GET', '/api/users', { headers: h })).json();
    assert.deepEqual(own.map((u: { address: string }) => u.address), ['root@a.test']);
    assert.deepEqual((await call(c.port, 'GET', '/api/sources', { headers: h })).json().map((s: { name: string }) => s.name), ['a', 'b']);
    await pop3Hello(b.port('pop3'));
    const lines = (await call(c.port, 'GET', '/api/transcripts?source=b', { headers: h })).json().lines;
    assert.ok(lines.length > 0 && lines.every((l: { source: string }) => l.source === 'b'));
    assert.equal((await call(c.port, 'GET', '/api/transcripts?source=a', { headers: h })).json().lines.length, 0);
    assert.equal((await call(c.port, 'GET', '/metrics')).status, 401);
    const m = await call(c.port, 'GET', '/metrics', { headers: h });
    assert.equal(m.status, 200);
    assert.match(m.text, /^wharf_connections_total\{source="b",service="pop3"\} 1$/m);
  });

  it('the authority\'s login throttle applies', async () => {
    // a.test uses the default throttle (3 free attempts, then 1 s, doubling)
    const t0 = Date.now();
    for (let i = 0; i < 4; i++) assert.equal((await call(c.port, 'POST', '/api/login', { json: { username: 'root@a.test', password: 'wrong' } })).status, 401);
    assert.ok(Date.now() - t0 >= 900, `the fourth failure was delayed (${Date.now() - t0} ms)`);
  });
});

describe('console secrets: HTTPS, or loopback, or auth.allow_insecure', () => {
  it('passwords and tokens only over TLS, on a loopback listener, or when allowed', () => {
    assert.equal(mayUseSecrets({ encrypted: false, localAddress: '127.0.0.1', allowInsecure: false }), true);
    assert.equal(mayUseSecrets({ encrypted: false, localAddress: '::ffff:127.9.9.9', allowInsecure: false }), true);
    assert.equal(mayUseSecrets({ encrypted: false, localAddress: '192.0.2.10', allowInsecure: false }), false);
    assert.equal(mayUseSecrets({ encrypted: true, localAddress: '192.0.2.10', allowInsecure: false }), true);
    assert.equal(mayUseSecrets({ encrypted: false, localAddress: '2001:db8::1', allowInsecure: true }), true);
  });

  it('console.tls: the page and the API over HTTPS with the instance certificate; the cookie is Secure', async () => {
    const t = await startTestWharf({ services: ['console'], users: [[ADMIN, 'pw']], hostname: 'hamburger.edu', set: { 'console.tls': true } });
    try {
      await t.wharf.store.updateAccount(ADMIN, { admin: true });
      assert.equal(t.address('console').tls, true);
      const ca = readFileSync(t.wharf.tls.certFile);
      const req = (method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> =>
        new Promise((resolve, reject) => {
          const r = https.request({ host: '127.0.0.1', port: t.port('console'), method, path, ca, servername: 'hamburger.edu', headers: { ...headers, ...(body ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) } : {}) } }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
          });
          r.on('error', reject);
          r.end(body);
        });
      assert.equal((await req('GET', '/')).status, 200);
      const login = await req('POST', '/api/login', JSON.stringify({ username: ADMIN, password: 'pw' }));
      assert.equal(login.status, 200, login.text);
      const cookie = login.headers['set-cookie']![0]!;
      assert.match(cookie, /; Secure/);
      const me = await req('GET', '/api/me', undefined, { Cookie: cookie.split(';')[0]! });
      assert.equal(JSON.parse(me.text).user, ADMIN);
      // Plain HTTP on the TLS port is not answered as HTTP.
      await assert.rejects(call(t.port('console'), 'GET', '/api/me'));
    } finally {
      await t.stop();
    }
  });
});
