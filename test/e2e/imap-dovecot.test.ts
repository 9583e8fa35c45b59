// ENVELOPE and BODYSTRUCTURE for tricky messages, compared with what Dovecot computes for the
// same octets (doveadm fetch imap.envelope / imap.bodystructure on a throw-away Maildir).
// IMAP strings are case-insensitive where types, subtypes and parameter names are concerned
// (RFC 2045 §5.1), and Dovecot keeps their original case where Wharf upper-cases them, so the
// comparison ignores case.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { messageMeta } from '../../src/mail/meta.js';
import { formatBodyStructure, formatEnvelope } from '../../src/imap/body.js';

const run = promisify(execFile);
const DOVEADM = '/usr/bin/doveadm';
const canRun = existsSync(DOVEADM) && process.getuid?.() === 0;

const CRLF = (lines: string[]) => lines.join('\r\n');

const MESSAGES: Record<string, string> = {
  simple: CRLF(['From: Alice <alice@crepes.fr>', 'To: bob@hamburger.edu', 'Subject: hello', 'Date: Mon, 23 Nov 2026 10:00:00 +0000', 'Message-ID: <a@b>', '', 'hi', '']),
  missingContentType: CRLF(['From: alice@crepes.fr', 'Subject: no type', '', 'body line one', 'body line two', '']),
  encodedWords: CRLF(['From: =?UTF-8?B?QWxpY8Op?= <alice@crepes.fr>', 'To: "Bob, the Builder" <bob@hamburger.edu>, carol@hamburger.edu', 'Cc: friends: dave@x.org, eve@y.org;', 'Subject: =?ISO-8859-1?Q?Cr=E8pes?= and more', 'In-Reply-To: <x@y>', '', 'x', '']),
  nested: CRLF([
    'From: alice@crepes.fr',
    'Subject: nested',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="outer"',
    '',
    '--outer',
    'Content-Type: multipart/alternative; boundary=inner',
    '',
    '--inner',
    'Content-Type: text/plain; charset="utf-8"; format=flowed',
    'Content-Transfer-Encoding: 8bit',
    '',
    'plain text',
    '--inner',
    'Content-Type: text/html; charset=utf-8',
    'Content-ID: <part@x>',
    'Content-Description: the html',
    '',
    '<p>html</p>',
    '--inner--',
    '--outer',
    'Content-Type: application/pdf; name*=UTF-8\'\'r%C3%A9sum%C3%A9.pdf',
    'Content-Disposition: attachment; filename*0="very long ";  filename*1="name.pdf"',
    'Content-Transfer-Encoding: base64',
    'Content-Language: fr',
    '',
    'JVBERi0=',
    '--outer',
    'Content-Type: message/rfc822',
    '',
    'From: carol@hamburger.edu',
    'Subject: inner message',
    'Content-Type: text/plain',
    '',
    'inner body',
    '--outer--',
    '',
  ]),
};

let dir = '';
before(() => {
  if (!canRun) return;
  dir = mkdtempSync(join(tmpdir(), 'wharf-dovecot-'));
  chmodSync(dir, 0o755);
  const home = join(dir, 'home');
  for (const d of ['cur', 'new', 'tmp']) mkdirSync(join(home, 'Maildir', d), { recursive: true });
  writeFileSync(
    join(dir, 'dovecot.conf'),
    [`mail_location = maildir:~/Maildir`, 'ssl = no', 'log_path = /dev/stderr', `base_dir = ${dir}/run`, `state_dir = ${dir}/state`, 'mail_uid = 65534', 'mail_gid = 65534', 'first_valid_uid = 0', 'first_valid_gid = 0', ''].join('\n'),
  );
  Object.values(MESSAGES).forEach((m, i) => writeFileSync(join(home, 'Maildir', 'cur', `${1000 + i}.m${i}:2,`), m));
  const chownAll = (p: string) => {
    chownSync(p, 65534, 65534);
  };
  for (const p of [home, join(home, 'Maildir'), ...['cur', 'new', 'tmp'].map((d) => join(home, 'Maildir', d)), ...Object.keys(MESSAGES).map((_, i) => join(home, 'Maildir', 'cur', `${1000 + i}.m${i}:2,`))]) chownAll(p);
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function dovecot(field: string, uid: number): Promise<string> {
  const { stdout } = await run(DOVEADM, ['-c', join(dir, 'dovecot.conf'), '-f', 'flow', 'fetch', field, 'mailbox', 'INBOX', 'uid', String(uid)], {
    env: { USER: 'nobody', HOME: join(dir, 'home'), PATH: '/usr/bin:/usr/sbin' },
    timeout: 20_000,
  });
  return stdout.replace(new RegExp(`^${field.replace('.', '\\.')}=`), '').trim();
}

describe('ENVELOPE and BODYSTRUCTURE match Dovecot', { skip: canRun ? false : 'needs doveadm and root' }, () => {
  // Body line counts are line ends, as Dovecot counts them (src/mail/meta-parser.ts linesOf):
  // "nested" has parts whose last line ends at a boundary.
  Object.entries(MESSAGES).forEach(([name, raw], i) => {
    it(name, async () => {
      const meta = messageMeta(Buffer.from(raw));
      const ours = { env: formatEnvelope(meta.envelope), bs: formatBodyStructure(meta.body, true), body: formatBodyStructure(meta.body, false) };
      const theirs = { env: await dovecot('imap.envelope', i + 1), bs: await dovecot('imap.bodystructure', i + 1), body: await dovecot('imap.body', i + 1) };
      // doveadm leaves out the outer parentheses.
      assert.equal(ours.env.toLowerCase(), `(${theirs.env})`.toLowerCase(), 'ENVELOPE');
      assert.equal(ours.bs.toLowerCase(), `(${theirs.bs})`.toLowerCase(), 'BODYSTRUCTURE');
      assert.equal(ours.body.toLowerCase(), `(${theirs.body})`.toLowerCase(), 'BODY');
    });
  });
});
