// `wharf deliver`: the local delivery agent. Reads one message on standard input and stores it in
// the INBOX of every recipient, then exits 0 — only once it is durable. Exit statuses follow
// sysexits(3) so that an MTA (Postfix's mailbox_command, procmail-style setups) knows what to do:
//   0   delivered to every recipient
//   64  usage error
//   65  EX_DATAERR   the input is not a message
//   67  EX_NOUSER    a recipient is not a local account or alias (nothing is delivered)
//   75  EX_TEMPFAIL  the store could not take it (try again later)
// It works while `wharf start` runs on the same data directory.
import { parseArgs } from 'node:util';
import { describeError, isWharfError } from '../core/errors.js';
import type { CliContext, Command } from '../cli/context.js';
import { Exit, UsageError } from '../cli/context.js';
import type { Wharf } from '../wharf.js';
import { deliverLocal } from './deliver.js';
import { createMessageSink } from './ingest.js';

const EX_USAGE = 64;

async function deliver(ctx: CliContext, args: string[]): Promise<number> {
  let values: { to?: string[] | undefined; from?: string | undefined };
  try {
    ({ values } = parseArgs({ args, options: { to: { type: 'string', multiple: true }, from: { type: 'string' } }, allowPositionals: false, strict: true }));
  } catch (e) {
    ctx.err(`wharf deliver: ${(e as Error).message}`);
    return EX_USAGE;
  }
  const recipients = values.to ?? [];
  if (recipients.length === 0) {
    ctx.err('wharf deliver: at least one --to ADDRESS is required');
    return EX_USAGE;
  }
  // Postfix's local(8) passes the envelope sender in $SENDER to a mailbox_command.
  const sender = values.from ?? ctx.env.SENDER ?? '';
  if (/[\s<>]/.test(sender) || recipients.some((r) => /[\s<>]/.test(r) || !r.includes('@'))) {
    ctx.err('wharf deliver: addresses are given bare, like bob@hamburger.edu');
    return EX_USAGE;
  }
  let w: Wharf;
  try {
    w = await ctx.open();
  } catch (e) {
    ctx.err(`wharf deliver: cannot open the store: ${describeError(e).message}`);
    return Exit.tempFail;
  }
  try {
    // Refuse before reading the message if a recipient is unknown: all or nothing.
    const unknown: string[] = [];
    for (const r of recipients) {
      const a = await w.store.resolveAddress(r);
      if (!a || a.disabled) unknown.push(r);
    }
    if (unknown.length) {
      ctx.err(`wharf deliver: no such user: ${unknown.join(', ')}`);
      return Exit.noUser;
    }
    const sink = createMessageSink(w.store.blobs, { maxSize: w.config.smtp.max_message_size });
    let stored;
    try {
      for await (const chunk of ctx.stdin) await sink.write(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer));
      stored = await sink.commit();
    } catch (e) {
      await sink.abort().catch(() => {});
      if (isWharfError(e, 'WHARF_TOO_BIG')) {
        ctx.err(`wharf deliver: the message is larger than smtp.max_message_size (${w.config.smtp.max_message_size} octets)`);
        return Exit.dataErr;
      }
      throw e;
    }
    if (stored.meta.problem) {
      ctx.err(`wharf deliver: the input is not a message: ${stored.meta.problem}`);
      if (!(await w.store.blobInUse(stored.blobId))) await w.store.blobs.delete(stored.blobId).catch(() => {});
      return Exit.dataErr;
    }
    const result = await deliverLocal(w.store, { sender, blobId: stored.blobId, size: stored.size, meta: stored.meta }, recipients);
    if (result.unknown.length) {
      // A recipient deleted between the check above and the delivery: the others were stored in
      // one transaction, so exit 0 (a non-zero status would make the MTA deliver them again) and
      // name the missing one; with none delivered, it is EX_NOUSER.
      ctx.err(`wharf deliver: no such user: ${result.unknown.join(', ')}`);
      return result.delivered.length ? Exit.ok : Exit.noUser;
    }
    for (const d of result.delivered) ctx.out(`delivered to ${d.account.address} INBOX uid ${d.uid}`);
    return Exit.ok;
  } catch (e) {
    ctx.err(`wharf deliver: temporary failure: ${describeError(e).message}`);
    return Exit.tempFail;
  }
}

export const mailCommands: Command[] = [
  {
    name: 'deliver',
    usage: 'wharf deliver --to ADDRESS [--to ADDRESS ...] [--from SENDER] < message',
    summary: 'Store a message from standard input in local INBOXes (sysexits: 65 not a message, 67 no such user, 75 try later)',
    async run(ctx, args) {
      try {
        return await deliver(ctx, args);
      } catch (e) {
        if (e instanceof UsageError) throw e;
        ctx.err(`wharf deliver: temporary failure: ${describeError(e).message}`);
        return Exit.tempFail;
      }
    },
  },
];
