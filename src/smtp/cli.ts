// CLI commands of this module:
//   wharf queue list|show ID|retry ID|delete ID   the outgoing queue (store only: works while a
//                                                 server runs on the same data directory)
//   wharf send --from A --to B …                  a user agent: composes a MIME message and
//                                                 submits it through the submission port
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command, CliContext } from '../cli/context.js';
import { Exit, UsageError, readAll } from '../cli/context.js';
import { composeMessage } from '../mail/mime/compose.js';
import type { Attachment } from '../mail/mime/compose.js';
import type { QueueMessageDetail } from '../store/store.js';
import { SmtpClient, SmtpNetworkError, replyText } from './client.js';
import { parseRelayHost } from './delivery.js';

function queueId(args: string[]): number {
  const r = parseArgs({ args, options: {}, allowPositionals: true, strict: true });
  if (r.positionals.length !== 1) throw new UsageError('expected one queue id');
  const id = Number(r.positionals[0]);
  if (!Number.isSafeInteger(id) || id <= 0) throw new UsageError(`not a queue id: ${r.positionals[0]}`);
  return id;
}

function describe(m: QueueMessageDetail, out: (l: string) => void): void {
  out(`${m.id}  ${m.createdAt.toISOString()}  ${m.size + m.headerPrefix.length} bytes  <${m.sender}>${m.envid ? `  envid=${m.envid}` : ''}${m.ret ? `  ret=${m.ret}` : ''}`);
  for (const r of m.recipients) {
    const job = m.jobs.find((j) => j.domain === r.domain);
    let line = `    ${r.address}  ${r.status}`;
    if (r.status === 'pending' && job) {
      line += `  attempts=${job.attempts}  next=${job.nextAttemptAt.toISOString()}`;
      if (job.leasedBy) line += '  (being delivered)';
    }
    const why = r.lastReply ?? (r.status === 'pending' ? job?.lastError : null);
    if (why) line += `  ${why.replace(/[\r\n]+/g, ' ')}`;
    out(line);
  }
}

const queueCommands: Command[] = [
  {
    name: 'queue list',
    usage: 'wharf queue list',
    summary: 'List the messages waiting in the outgoing queue, with each recipient\'s state',
    async run(ctx, args) {
      parseArgs({ args, options: {}, allowPositionals: false, strict: true });
      const w = await ctx.open();
      const list = await w.store.listQueue();
      if (list.length === 0) {
        ctx.out('the queue is empty');
        return Exit.ok;
      }
      for (const m of list) describe(m, ctx.out);
      ctx.out(`${list.length} message${list.length === 1 ? '' : 's'} in the queue`);
      return Exit.ok;
    },
  },
  {
    name: 'queue show',
    usage: 'wharf queue show ID',
    summary: 'Show one queued message: envelope, recipients, attempts and its header',
    async run(ctx, args) {
      const id = queueId(args);
      const w = await ctx.open();
      const m = await w.store.getQueueMessage(id);
      if (!m) {
        ctx.err(`wharf: no queued message ${id}`);
        return Exit.failure;
      }
      describe(m, ctx.out);
      for (const j of m.jobs) ctx.out(`  job ${j.id} ${j.domain}: attempts=${j.attempts} next=${j.nextAttemptAt.toISOString()}${j.lastError ? ` last error: ${j.lastError}` : ''}`);
      const head = await w.store.blobs.read(m.blobId, 0, Math.min(m.size, 64 * 1024));
      const end = head.indexOf('\r\n\r\n');
      ctx.out('');
      ctx.out(Buffer.concat([m.headerPrefix, end >= 0 ? head.subarray(0, end) : head]).toString('utf8').replace(/\r\n/g, '\n').trimEnd());
      return Exit.ok;
    },
  },
  {
    name: 'queue retry',
    usage: 'wharf queue retry ID',
    summary: 'Make a queued message due now (a running server picks it up within seconds)',
    async run(ctx, args) {
      const id = queueId(args);
      const w = await ctx.open();
      if (!(await w.store.retryQueueMessage(id))) {
        ctx.err(`wharf: no queued message ${id}`);
        return Exit.failure;
      }
      ctx.out(`message ${id} will be retried now`);
      return Exit.ok;
    },
  },
  {
    name: 'queue delete',
    usage: 'wharf queue delete ID',
    summary: 'Delete a queued message without delivering it (no bounce is sent)',
    async run(ctx, args) {
      const id = queueId(args);
      const w = await ctx.open();
      if (!(await w.store.deleteQueueMessage(id))) {
        ctx.err(`wharf: no queued message ${id}`);
        return Exit.failure;
      }
      ctx.out(`deleted message ${id}`);
      return Exit.ok;
    },
  },
];

const TYPES: Record<string, string> = {
  '.txt': 'text/plain',
  '.html': 'text/html',
  '.htm': 'text/html',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.gif': 'image/gif',
  '.pdf': 'application/pdf',
  '.zip': 'application/zip',
  '.json': 'application/json',
  '.csv': 'text/csv',
};

async function sendRun(ctx: CliContext, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      from: { type: 'string' },
      to: { type: 'string', multiple: true },
      cc: { type: 'string', multiple: true },
      subject: { type: 'string' },
      attach: { type: 'string', multiple: true },
      server: { type: 'string' },
      user: { type: 'string' },
      password: { type: 'string' },
      'password-stdin': { type: 'boolean' },
    },
  });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}`);
  if (!values.from) throw new UsageError('--from is required');
  const split = (v: string[] | undefined) => (v ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  const to = split(values.to);
  const cc = split(values.cc);
  if (to.length + cc.length === 0) throw new UsageError('at least one --to or --cc is required');
  if (values.password !== undefined && values['password-stdin']) throw new UsageError('give --password or --password-stdin, not both');
  const target = parseRelayHost(values.server ?? `127.0.0.1:${ctx.config.submission.port}`, ctx.config.submission.port);
  if (!target) throw new UsageError(`bad --server ${values.server}`);

  // stdin: the body; with --password-stdin its first line is the password.
  let input = (await readAll(ctx.stdin)).toString('utf8');
  let password = values.password;
  if (values['password-stdin']) {
    const nl = input.indexOf('\n');
    password = (nl < 0 ? input : input.slice(0, nl)).replace(/\r$/, '');
    input = nl < 0 ? '' : input.slice(nl + 1);
  }
  const attachments: Attachment[] = (values.attach ?? []).map((file) => ({
    filename: basename(file),
    contentType: TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
    content: readFileSync(file),
  }));
  const message = composeMessage({
    from: values.from,
    ...(to.length ? { to } : {}),
    ...(cc.length ? { cc } : {}),
    subject: values.subject ?? '',
    text: input,
    ...(attachments.length ? { attachments } : {}),
  });
  const sender = /<([^>]*)>/.exec(values.from)?.[1] ?? values.from.trim();
  const recipients = [...to, ...cc].map((a) => /<([^>]*)>/.exec(a)?.[1] ?? a);

  let client: SmtpClient;
  try {
    client = await SmtpClient.connect({ host: target.host, port: target.port, connectTimeoutMs: 30_000 });
  } catch (err) {
    ctx.err(`wharf send: ${(err as Error).message}`);
    return Exit.tempFail;
  }
  try {
    const hello = await client.hello(ctx.config.hostname);
    if (hello.code !== 250) {
      ctx.err(`wharf send: the server said: ${replyText(hello)}`);
      return hello.code >= 500 ? Exit.failure : Exit.tempFail;
    }
    if (password !== undefined) {
      const a = await client.authPlain(values.user ?? sender, password);
      if (a.code !== 235) {
        ctx.err(`wharf send: authentication failed: ${replyText(a)}`);
        return Exit.failure;
      }
    }
    const r = await client.transaction({ sender, recipients: recipients.map((address) => ({ address })), size: message.length, body: () => message });
    if (!r.mail || r.mail.code !== 250) {
      ctx.err(`wharf send: sender refused: ${r.mail ? replyText(r.mail) : 'no reply'}`);
      return r.mail && r.mail.code < 500 ? Exit.tempFail : Exit.failure;
    }
    let bad = 0;
    r.recipients.forEach((rc, i) => {
      if (rc.code >= 300) {
        bad++;
        ctx.err(`wharf send: ${recipients[i]}: ${replyText(rc)}`);
      }
    });
    if (!r.data || r.data.code !== 250) {
      if (r.data) ctx.err(`wharf send: message refused: ${replyText(r.data)}`);
      return r.data && r.data.code < 500 ? Exit.tempFail : Exit.failure;
    }
    ctx.out(`sent to ${recipients.length - bad} recipient${recipients.length - bad === 1 ? '' : 's'}: ${replyText(r.data)}`);
    return bad ? Exit.failure : Exit.ok;
  } catch (err) {
    if (err instanceof SmtpNetworkError) {
      ctx.err(`wharf send: ${err.message}`);
      return Exit.tempFail;
    }
    throw err;
  } finally {
    // Every path ends the connection (an open socket would keep the process alive).
    if (!client.conn.closed) await client.quit();
    client.destroy();
  }
}

export const smtpCommands: Command[] = [
  ...queueCommands,
  {
    name: 'send',
    usage: 'wharf send --from A --to B [--cc C] --subject S [--attach FILE ...] [--server host:port] [--user U] [--password P | --password-stdin] < body',
    summary: 'Compose a message (MIME, attachments as multipart/mixed) and submit it with AUTH',
    run: sendRun,
  },
];
