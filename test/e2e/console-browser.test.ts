// The web console in a real browser (issue 9): Debian's Chromium driven by playwright-core
// against the lab (src/lab: root, TLD and authoritative DNS servers, two mail domains, the
// console showing every instance). Checks what students look at:
//  - the login form, and that a wrong password is refused on the page;
//  - live transcripts of an SMTP session sent by Python's smtplib (S: 220 …, C: EHLO …),
//    filtering by service and grouping by session; the lab's alice-to-bob scenario, whose relay
//    session (C: HELO crepes.fr) is picked out with a click on its session id;
//  - the DNS path of the lab's dns-iterated scenario drawn with numbered arrows 1..n between
//    the local DNS server and the root, TLD and authoritative servers;
//  - a message whose headers and body carry HTML, <script> and onerror= is shown as text: no
//    element is made from it, no script runs (window flag and document.title stay untouched),
//    and the raw source is served as text/plain under a sandbox CSP;
//  - the queue (a message to a host with no mail server waits there; retry and delete), the
//    admin forms (add, reset and delete a user; add and delete a zone record, import a zone,
//    make and revoke an API token), the proxy cache
//    table and the counters.
// WHARF_SCREENSHOTS=1 saves docs/console-*.png (so ordinary runs and CI leave them alone).
// Skips when /usr/bin/chromium is missing.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { startLab } from '../../src/lab/index.js';
import type { Lab } from '../../src/lab/index.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium): the console browser test needs it`;
const SHOTS = process.env.WHARF_SCREENSHOTS === '1';

/** The repository root, from the source (test/e2e) or the compiled file (dist/test/e2e). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** Sends one message with Python's smtplib (a real third-party client); resolves its stdout. */
function smtplib(script: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('python3', ['-c', script, ...args], { timeout: 30_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}

/** GET through an HTTP proxy (absolute-form request target, RFC 9112 §3.2.2); resolves the status. */
function viaProxy(host: string, port: number, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host, port, path: url, headers: { host: new URL(url).host } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

const SEND = `
import smtplib, sys
from email.message import EmailMessage
host, port, sender, rcpt, subject = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
m = EmailMessage()
m['From'] = '"<b>Mallory</b> <script>document.title=1</script>" <' + sender + '>'
m['To'] = rcpt
m['Subject'] = subject
m['X-Trap'] = '<img src=x onerror="window.__pwned=2">'
m.set_content('Plain part: <script>window.__pwned=3</script>')
m.add_alternative('<html><body><h1>Hi</h1><script>window.__pwned=1;document.title="pwned"</script><img src=x onerror="window.__pwned=4"></body></html>', subtype='html', cte='7bit')
with smtplib.SMTP(host, port, local_hostname='mallory.crepes.fr', timeout=20) as s:
    if len(sys.argv) > 7:
        s.login(sys.argv[6], sys.argv[7])
    s.send_message(m)
print('sent')
`;

describe('web console in Chromium', { skip }, () => {
  let lab: Lab;
  let browser: Browser;
  let page: Page;
  let base: string;
  const pageErrors: string[] = [];
  const alerts: string[] = [];
  const shots = join(repoRoot(), 'docs');

  async function shot(name: string): Promise<void> {
    if (!SHOTS) return;
    mkdirSync(shots, { recursive: true });
    await page.waitForTimeout(300);
    await page.evaluate("document.getElementById('flash').hidden = true");
    await page.mouse.move(0, 0);
    await page.screenshot({ path: join(shots, `console-${name}.png`), fullPage: name !== 'transcripts' });
  }

  before(async () => {
    // A lab of our own on 127.N so this file runs beside other lab tests.
    const net = `127.${200 + (process.pid % 50)}`;
    lab = await startLab({ net, logStream: null });
    assert.ok(lab.console, `the lab's console did not start: ${lab.consoleError}`);
    base = `http://${lab.console.host}:${lab.console.port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    const context = await browser.newContext({ viewport: { width: 1360, height: 860 } });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('dialog', (d) => {
      if (d.type() !== 'confirm') alerts.push(`${d.type()}: ${d.message()}`);
      void d.accept();
    });
  });

  after(async () => {
    await browser?.close();
    await lab?.stop();
  });

  test('login form: a wrong password is refused, the admin gets in', async () => {
    const res = await page.goto(`${base}/`);
    assert.equal(res?.status(), 200);
    const csp = res?.headers()['content-security-policy'] ?? '';
    assert.match(csp, /default-src 'self'/);
    await page.locator('#login-form').waitFor();
    assert.equal(await page.locator('#nav').isVisible(), false);
    await page.fill('#login-user', lab.admin.address);
    await page.fill('#login-password', 'not the password');
    await page.click('#login-submit');
    await page.locator('#login-error').filter({ hasText: /wrong/i }).waitFor();
    await page.fill('#login-password', lab.admin.password);
    await page.click('#login-submit');
    await page.locator('#nav').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#whoami').textContent(), lab.admin.address);
    assert.equal(await page.locator('#login-view').isVisible(), false);
  });

  test('live transcripts: an SMTP session appears line by line, S: and C: coloured apart', async () => {
    await page.goto(`${base}/#/transcripts`);
    await page.locator('#tf-status.on').waitFor();
    const mx = lab.world.hosts['mail.hamburger.edu']!;
    const port = lab.instances['hamburger.edu']!.address('smtp').port;
    assert.equal(await smtplib(SEND, [mx, String(port), 'mallory@crepes.fr', 'bob@hamburger.edu', 'Transcript check']), 'sent\n');
    const greeting = page.locator('.line.dir-S .text', { hasText: /^220 hamburger\.edu/ });
    await greeting.first().waitFor();
    await page.locator('.line.dir-C .text', { hasText: /^(EHLO|HELO) mallory\.crepes\.fr$/i }).first().waitFor();
    await page.locator('.line.dir-S .text', { hasText: /^221 / }).first().waitFor();
    // Direction is visible in the colour, not only in the letter.
    const sColour = await greeting.first().evaluate((e) => (globalThis as unknown as { getComputedStyle(x: unknown): { color: string } }).getComputedStyle(e).color);
    const cColour = await page.locator('.line.dir-C .text').first().evaluate((e) => (globalThis as unknown as { getComputedStyle(x: unknown): { color: string } }).getComputedStyle(e).color);
    assert.notEqual(sColour, cColour);

    // Filter by service: only DNS lines remain after a DNS query is made.
    await page.selectOption('#tf-service', 'dns');
    await page.locator('#tf-status.on').waitFor();
    const r = await lab.runScenario('dns-iterated');
    assert.ok(r.ok, r.reason);
    await page.locator('.line .svc-dns').first().waitFor();
    assert.equal(await page.locator('.line .svc-smtp').count(), 0);
    await page.selectOption('#tf-service', 'smtp');
    await greeting.first().waitFor();
    assert.equal(await page.locator('.line .svc-dns').count(), 0);

    // Grouped by session: one box per session, headed by its client.
    await page.check('#tf-group');
    await page.locator('.group .group-head', { hasText: 'smtp' }).first().waitFor();
    assert.ok((await page.locator('.group .line.dir-S').count()) > 0);
    await page.uncheck('#tf-group');
    await greeting.first().waitFor();
    await page.selectOption('#tf-service', '');
  });

  test("the alice-to-bob scenario: the relay session reads like the slides, one session at a click", async () => {
    await page.goto(`${base}/#/transcripts`);
    await page.locator('#tf-status.on').waitFor();
    const r = await lab.runScenario('alice-to-bob');
    assert.ok(r.ok, r.reason);
    // hamburger.edu's side of the relay: S: 220 hamburger.edu … C: HELO crepes.fr … S: 221.
    const helo = page.locator('.line.dir-C', { has: page.locator('.text', { hasText: /^(HELO|EHLO) crepes\.fr$/i }) }).filter({ has: page.locator('.svc-smtp') });
    await helo.first().waitFor();
    const session = (await helo.first().locator('.sess').textContent()) ?? '';
    await helo.first().locator('.sess').click();
    assert.equal(await page.inputValue('#tf-session'), session);
    await page.locator('.line.dir-S .text', { hasText: /^221 / }).first().waitFor();
    const sessions = new Set(await page.locator('.line .sess').allTextContents());
    assert.deepEqual([...sessions], [session], 'only the clicked session is shown');
    const texts = await page.locator('.line .text').allTextContents();
    assert.match(texts.find((t) => /^220 /.test(t)) ?? '', /^220 hamburger\.edu/);
    assert.ok(texts.some((t) => /^MAIL FROM:<alice@crepes\.fr>/i.test(t)));
    assert.ok(texts.some((t) => /^RCPT TO:<bob@hamburger\.edu>/i.test(t)));
    await shot('transcripts');
    await page.fill('#tf-session', '');
    await page.locator('.line .sess', { hasNotText: session }).first().waitFor();
  });

  test('DNS: the iterated resolution is drawn with numbered arrows to root, TLD and authoritative servers', async () => {
    const r = await lab.runScenario('dns-iterated');
    assert.ok(r.ok, r.reason);
    await page.goto(`${base}/#/dns`);
    const item = page.locator('.res-item', { hasText: 'gaia.cs.umass.edu' }).first();
    await item.waitFor();
    await item.click();
    const diagram = page.locator('#dns-detail svg.dns-diagram');
    await diagram.waitFor();
    for (const role of ['requesting host', 'local DNS server', 'root DNS server', 'TLD DNS server', 'authoritative DNS server']) {
      assert.ok((await diagram.locator('text', { hasText: role }).count()) > 0, `the picture shows the ${role}`);
    }
    // Arrows numbered 1..n in order: the question, a query and a reply per server, the answer.
    const numbers = (await diagram.locator('.num text').allTextContents()).map(Number).sort((a, b) => a - b);
    assert.ok(numbers.length >= 8, `at least 8 numbered messages, got ${numbers.join(',')}`);
    assert.deepEqual(numbers, numbers.map((_, i) => i + 1));
    assert.equal(await diagram.locator('.msg line').count(), numbers.length);
    // The table lists the same messages; the last one answers the host with the address.
    const rows = page.locator('#dns-detail table.dns-steps tbody tr');
    assert.equal(await rows.count(), numbers.length);
    const gaia = lab.world.hosts['gaia.cs.umass.edu']!;
    assert.match((await rows.last().textContent()) ?? '', new RegExp(`requesting host.*${gaia.replace(/\./g, '\\.')}`));
    await shot('dns');
  });

  test('a message with HTML and <script> in its headers and body is shown as text, nothing runs', async () => {
    const subject = '<b>Bold?</b> <script>window.__pwned=5;document.title="pwned"</script> <img src=x onerror=alert(1)>';
    const mx = lab.world.hosts['mail.hamburger.edu']!;
    const port = lab.instances['hamburger.edu']!.address('smtp').port;
    await smtplib(SEND, [mx, String(port), 'mallory@crepes.fr', 'bob@hamburger.edu', subject]);

    await page.goto(`${base}/#/mailboxes/${encodeURIComponent('bob@hamburger.edu')}`);
    await page.locator('a', { hasText: 'INBOX' }).click();
    const link = page.locator('a.msg-link', { hasText: 'Bold?' }).last();
    await link.waitFor();
    assert.equal(await link.textContent(), subject);
    await link.click();
    await page.locator('#msg-subject').waitFor();
    assert.equal(await page.locator('#msg-subject').textContent(), subject);
    const headerCells = await page.locator('table.headers td').allTextContents();
    assert.ok(headerCells.includes('<img src=x onerror="window.__pwned=2">'), 'the X-Trap header is shown as typed');
    assert.ok(headerCells.some((c) => c.includes('<b>Mallory</b>')), 'the From display name is shown as typed');
    const raw = page.locator('#raw-source');
    await raw.filter({ hasText: 'window.__pwned=1' }).waitFor();
    const rawText = (await raw.textContent()) ?? '';
    assert.match(rawText, /<script>window\.__pwned=1;document\.title="pwned"<\/script>/);
    assert.match(rawText, /^Content-Type: multipart\/alternative/m);
    // The MIME tree shows the structure smtplib built.
    const tree = (await page.locator('#mime-tree').textContent()) ?? '';
    assert.match(tree, /multipart\/alternative/);
    assert.match(tree, /text\/plain/);
    assert.match(tree, /text\/html/);
    // Nothing from the message became an element, and nothing ran.
    assert.equal(await page.locator('#view script, #view img, #view b, #view h1, #view iframe').count(), 0);
    assert.equal(await page.evaluate('typeof window.__pwned'), 'undefined');
    assert.equal(await page.title(), 'Wharf console');
    assert.deepEqual(alerts, []);
    await shot('message');

    // The raw link: text/plain, nosniff, sandboxed; the browser shows it as text.
    const rawHref = await page.locator('a', { hasText: 'open as plain text' }).getAttribute('href');
    assert.ok(rawHref);
    const rawPage = await page.context().newPage();
    try {
      const res = await rawPage.goto(new URL(rawHref, `${base}/`).href);
      assert.match(res?.headers()['content-type'] ?? '', /^text\/plain/);
      assert.match(res?.headers()['content-security-policy'] ?? '', /sandbox/);
      assert.equal(await rawPage.evaluate('document.contentType'), 'text/plain');
      assert.equal(await rawPage.locator('script, img').count(), 0);
      assert.equal(await rawPage.evaluate('typeof window.__pwned'), 'undefined');
    } finally {
      await rawPage.close();
    }
  });

  test('queue: a message for a host without a mail server waits, retry and delete work', async () => {
    // gaia.cs.umass.edu has an address but no MX and nothing on the SMTP port: a temporary failure.
    const bob = lab.world.accounts.bob;
    const sub = lab.instances['hamburger.edu']!.address('submission').port;
    await smtplib(SEND, [lab.world.hosts['mail.hamburger.edu']!, String(sub), bob.address, 'someone@gaia.cs.umass.edu', 'Stuck in the queue', bob.login, bob.password]);
    await page.goto(`${base}/#/queue`);
    const row = page.locator('table.queue-table tbody tr', { hasText: 'someone@gaia.cs.umass.edu' });
    await row.waitFor();
    await row.locator('button[data-action="retry"]').click();
    await page.locator('#flash', { hasText: 'tried again' }).waitFor();
    await page.locator('table.queue-table tbody tr', { hasText: 'someone@gaia.cs.umass.edu' }).waitFor();
    await shot('queue');
    await page.locator('table.queue-table tbody tr', { hasText: 'someone@gaia.cs.umass.edu' }).locator('button[data-action="delete"]').click();
    await page.locator('#flash', { hasText: 'deleted from the queue' }).waitFor();
    await page.locator('table.queue-table tbody tr', { hasText: 'someone@gaia.cs.umass.edu' }).waitFor({ state: 'detached' });
  });

  test('admin: users and zone records can be added and removed', async () => {
    await page.goto(`${base}/#/admin`);
    const users = page.locator('#admin-users');
    await users.locator('table').waitFor();
    await page.fill('#new-user', 'carol@hamburger.edu');
    await page.fill('#new-user-password', 'ketchup-and-fries');
    await page.click('#admin-users button[type="submit"]');
    const carol = users.locator('tbody tr', { hasText: 'carol@hamburger.edu' });
    await carol.waitFor();
    await carol.locator('button', { hasText: 'Reset password' }).click();
    await carol.locator('input[type="password"]').fill('mustard-and-fries');
    await carol.locator('button', { hasText: 'Save' }).click();
    await page.locator('#flash', { hasText: 'Password of carol@hamburger.edu changed' }).waitFor();
    assert.ok(await lab.instances['hamburger.edu']!.store.getAccount('carol@hamburger.edu'));
    await shot('admin');
    await users.locator('tbody tr', { hasText: 'carol@hamburger.edu' }).locator('button', { hasText: 'Delete' }).click();
    await users.locator('tbody tr', { hasText: 'carol@hamburger.edu' }).waitFor({ state: 'detached' });

    await page.goto(`${base}/#/admin/zones`);
    const zoneLink = page.locator('#admin-zones a', { hasText: /^hamburger\.edu\.?$/ });
    await zoneLink.click();
    await page.locator('table.records').waitFor();
    const serialBefore = (await page.locator('.zone-title').textContent()) ?? '';
    await page.fill('#rec-name', 'www.hamburger.edu.');
    await page.fill('#rec-data', '127.0.0.80');
    await page.click('button:has-text("Add record")');
    const rec = page.locator('table.records tbody tr', { hasText: '127.0.0.80' });
    await rec.waitFor();
    assert.notEqual((await page.locator('.zone-title').textContent()) ?? '', serialBefore, 'the SOA serial went up');
    await shot('zone');
    await rec.locator('button', { hasText: 'Delete' }).click();
    await rec.waitFor({ state: 'detached' });

    // Import: a mistake is reported with its place, a good master file becomes a zone.
    await page.goto(`${base}/#/admin/zones`);
    await page.fill('#zone-import', '$ORIGIN example.lab.\n$TTL 60\n@ IN SOA ns hostmaster 1 60 60 60 60\n@ IN NS ns\nns IN A 999.1.1.1\n');
    await page.click('.import-form button[type="submit"]');
    await page.locator('#zone-import-error', { hasText: /^Line 5, column 9: .*999\.1\.1\.1/ }).waitFor();
    await page.fill('#zone-import', '$ORIGIN example.lab.\n$TTL 60\n@ IN SOA ns hostmaster 1 60 60 60 60\n@ IN NS ns\nns IN A 127.0.0.53\n');
    await page.click('.import-form button[type="submit"]');
    await page.locator('table.records tbody tr', { hasText: '127.0.0.53' }).waitFor();
    assert.match((await page.locator('.zone-title').textContent()) ?? '', /example\.lab\./);

    // API tokens: made on the page, shown once, usable as a bearer token, revoked.
    await page.goto(`${base}/#/admin/tokens`);
    await page.fill('#new-token', 'browser-test');
    await page.click('#admin-tokens button[type="submit"]');
    const token = (await page.locator('#token-value').textContent()) ?? '';
    assert.ok(token.length >= 20, 'the new token is shown');
    const me = await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(me.status, 200);
    await page.locator('#admin-tokens tbody tr', { hasText: 'browser-test' }).locator('button', { hasText: 'Revoke' }).click();
    await page.locator('#admin-tokens tbody tr', { hasText: 'browser-test' }).waitFor({ state: 'detached' });
    assert.equal((await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${token}` } })).status, 401);
  });

  test('proxy cache table: a page fetched twice through the lab proxy is listed with its hit', async () => {
    const url = `http://www.ibm.com:${lab.origin.port}/index.html`;
    const proxy = lab.instances['cache.poly.edu']!.address('proxy');
    assert.equal(await viaProxy(proxy.host, proxy.port, url), 200);
    assert.equal(await viaProxy(proxy.host, proxy.port, url), 200);
    await page.goto(`${base}/#/proxy`);
    assert.equal(await page.locator('#proxy-source').inputValue(), 'cache.poly.edu');
    const row = page.locator('table.proxy-table tbody tr', { hasText: url });
    await row.waitFor();
    const cells = await row.locator('td').allTextContents();
    assert.equal(cells[1], '200');
    assert.ok(Number(cells[7]) >= 1, `hits column: ${cells.join(' | ')}`);
    await shot('proxy');
  });

  test('counters per service, and no script errors on any view', async () => {
    await page.goto(`${base}/#/counters`);
    const card = page.locator('.counter-card[data-source="hamburger.edu"]');
    await card.waitFor();
    assert.match((await card.textContent()) ?? '', /smtp/i);
    await shot('counters');
    for (const v of ['proxy', 'mailboxes', 'admin/zones']) {
      await page.goto(`${base}/#/${v}`);
      await page.waitForTimeout(300);
      assert.equal(await page.locator('#view .load-error').count(), 0, `view ${v} loaded`);
    }
    assert.deepEqual(pageErrors, []);
    await page.click('#logout');
    await page.locator('#login-form').waitFor({ state: 'visible' });
  });
});
