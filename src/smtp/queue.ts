// The outgoing queue runner of a node. It takes due jobs from the store with a lease
// (store.claimJobs: a job is held by one worker on one node at a time; PostgreSQL uses
// FOR UPDATE SKIP LOCKED), keeps at most queue.workers deliveries in flight, and wakes when
// mail is enqueued here ('queue-kick' on the bus), when the next job falls due (store.nextDue),
// and every POLL_MS anyway (work enqueued by another process or node, `wharf queue retry`,
// leases that lapsed).
//
// Leases are short (queue.lease, 45 s) and renewed by one heartbeat every third of a lease for
// every delivery in flight (store.renewJobs), however long the SMTP dialogue takes (RFC 5321
// §4.5.3.2 allows ~25 minutes). A node killed mid-delivery stops renewing: its jobs become
// claimable after at most one lease and another node (or this one restarted) takes them at
// its next look, within lease + POLL_MS. A job whose lease was lost anyway (the node stalled
// longer than a lease) may be attempted twice; finishJob then refuses the stale owner.
//
// Per attempt (RFC 5321 §4.5.4.1): delivered and failed recipients are settled; deferred ones
// are retried after min(retry_max, retry_base · 2^attempts); a message older than
// queue.max_age fails its pending recipients (4.4.7). Failures produce one DSN to the sender
// (bounce.ts) before the job is settled, so a crash in between can at worst repeat a bounce,
// never lose one.
import { describeError, isWharfError } from '../core/errors.js';
import type { BoundAddress, Service } from '../service.js';
import type { JobOutcome, QueueJob } from '../store/store.js';
import type { Wharf } from '../wharf.js';
import { sendBounce } from './bounce.js';
import type { FailedRecipient } from './bounce.js';
import { attemptJob } from './delivery.js';
import type { AttemptResult } from './delivery.js';

/** Look for work from other processes (and lapsed leases) at least this often. */
const POLL_MS = 15_000;

/** RFC 5321 §4.5.4.1: retry interval, doubling from base up to max. */
export function backoff(attempts: number, baseMs: number, maxMs: number): number {
  const n = Math.max(0, Math.min(attempts, 40));
  return Math.min(maxMs, baseMs * 2 ** n);
}

export class QueueRunner implements Service {
  readonly name = 'queue';
  private readonly owner: string;
  private active = 0;
  private readonly inflight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private pumping = false;
  private again = false;
  private stopped = false;
  private unsubscribe: (() => void) | null = null;
  /** Jobs in flight here, whose leases the heartbeat renews. */
  private readonly held = new Set<number>();
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(private readonly wharf: Wharf) {
    this.owner = `${wharf.nodeId}:queue`;
  }

  private get leaseMs(): number {
    return Math.max(300, this.wharf.config.queue.lease);
  }

  async start(): Promise<BoundAddress[]> {
    this.unsubscribe = this.wharf.bus.on('queue-kick', () => this.poke());
    this.heartbeat = setInterval(() => this.renew(), Math.floor(this.leaseMs / 3));
    this.heartbeat.unref?.();
    this.poke();
    return [];
  }

  /** The heartbeat: extends the leases of the deliveries in flight. */
  private renew(): void {
    if (this.held.size === 0) return;
    const ids = [...this.held];
    this.wharf.store.renewJobs(this.owner, ids, this.leaseMs).then(
      (kept) => {
        const lost = ids.filter((id) => this.held.has(id) && !kept.includes(id));
        if (lost.length) this.wharf.logger.warn('queue: lease lost during delivery (another worker may attempt it too)', { jobs: lost });
      },
      // A store hiccup: the next beat tries again (a third of a lease later, before it lapses).
      (err: unknown) => this.wharf.logger.error('queue: cannot renew leases', { err: describeError(err) }),
    );
  }

  async stop(deadlineMs: number): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.inflight.size) {
      // keep renewing while the deliveries finish; stopped once they are done or abandoned
      let t: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.inflight]), new Promise<void>((r) => (t = setTimeout(r, deadlineMs)))]);
      clearTimeout(t);
    }
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  /** Look for work now. */
  poke(): void {
    if (this.stopped) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    void this.pump()
      .catch((err) => this.wharf.logger.error('queue: pump failed', { err: describeError(err) }))
      .finally(() => {
        this.pumping = false;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }

  private async pump(): Promise<void> {
    try {
      await this.claim();
    } finally {
      // Whatever happened (a store hiccup), look again later: the queue never stalls.
      await this.schedule().catch((err) => {
        this.wharf.logger.error('queue: cannot read the next due time', { err: describeError(err) });
        this.setTimer(POLL_MS);
      });
    }
  }

  private async claim(): Promise<void> {
    const workers = this.wharf.config.queue.workers;
    while (!this.stopped && this.active < workers) {
      const jobs = await this.wharf.store.claimJobs(this.owner, workers - this.active, this.leaseMs);
      if (this.stopped) return; // leases expire; the jobs stay queued
      if (jobs.length === 0) break;
      for (const job of jobs) {
        this.active++;
        this.held.add(job.id);
        const p = this.runJob(job)
          .catch((err) => this.wharf.logger.error('queue: job failed', { job: job.id, err: describeError(err) }))
          .finally(() => {
            this.active--;
            this.held.delete(job.id);
            this.inflight.delete(p);
            this.poke();
          });
        this.inflight.add(p);
      }
    }
  }

  private setTimer(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.poke();
    }, ms);
    this.timer.unref?.();
  }

  private async schedule(): Promise<void> {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    // a lapsed lease is noticed within a third of a lease (or POLL_MS, whichever is sooner)
    const poll = Math.min(POLL_MS, Math.floor(this.leaseMs / 3));
    let wait = poll;
    const due = await this.wharf.store.nextDue();
    if (due) wait = Math.max(0, Math.min(poll, due.getTime() - Date.now()));
    this.setTimer(wait + 5);
  }

  /** One attempt at one job, then settle it in the store. */
  async runJob(job: QueueJob): Promise<void> {
    const cfg = this.wharf.config.queue;
    let attempt: AttemptResult;
    try {
      attempt = await attemptJob(this.wharf, job);
    } catch (err) {
      this.wharf.logger.error('queue: delivery attempt failed', { job: job.id, err: describeError(err) });
      const reply = '451 4.3.0 Local error during delivery';
      attempt = { outcomes: job.recipients.map((r) => ({ recipientId: r.id, outcome: 'deferred' as const, reply })), error: reply, remoteMta: null };
    }
    const now = Date.now();
    const expired = now - job.message.createdAt.getTime() >= cfg.max_age;
    const outcomes: JobOutcome[] = attempt.outcomes.map((o) =>
      o.outcome === 'deferred' && expired ? { ...o, outcome: 'failed' as const, reply: `${o.reply ?? ''} (4.4.7 delivery time expired; gave up)`.trim() } : o,
    );
    const byId = new Map(job.recipients.map((r) => [r.id, r]));
    const failed: FailedRecipient[] = outcomes
      .filter((o) => o.outcome === 'failed')
      .map((o) => ({ recipient: byId.get(o.recipientId)!, reply: expired && !/\b5\.\d+\.\d+/.test(o.reply ?? '') ? `4.4.7 ${o.reply ?? ''}` : o.reply ?? '' }));
    // RFC 3461 §5.2.2 / §4.1: NOTIFY=SUCCESS relayed to a server without DSN: say "relayed".
    if (!attempt.peerDsn) {
      for (const o of outcomes) {
        const r = byId.get(o.recipientId);
        if (o.outcome === 'delivered' && r?.notify?.includes('SUCCESS')) failed.push({ recipient: r, reply: o.reply ?? '250 2.0.0 relayed', action: 'relayed' });
      }
    }
    let final = outcomes;
    if (failed.length) {
      try {
        await sendBounce(this.wharf, job.message, failed, attempt.remoteMta);
      } catch (err) {
        // Keep the recipients pending: the bounce is tried again with the next attempt.
        this.wharf.logger.error('queue: bounce failed', { job: job.id, err: describeError(err) });
        final = outcomes.map((o) => (o.outcome === 'failed' ? { ...o, outcome: 'deferred' as const } : o));
      }
    }
    const next = new Date(now + backoff(job.attempts, cfg.retry_base, cfg.retry_max));
    try {
      await this.wharf.store.finishJob(job.id, this.owner, final, next, attempt.error);
    } catch (err) {
      // `wharf queue delete` during the attempt, or the lease expired and another worker took it.
      if (isWharfError(err, 'WHARF_NOT_FOUND')) {
        this.wharf.logger.warn('queue: job gone or taken over before it was settled', { job: job.id });
        return;
      }
      throw err;
    }
    const counts = { delivered: 0, failed: 0, deferred: 0 };
    for (const o of final) counts[o.outcome]++;
    this.wharf.bus.emit('queue-attempt', { job: job.id, messageId: job.messageId, domain: job.domain, ...counts, error: attempt.error });
    this.wharf.logger.info('queue: attempt', { job: job.id, message: job.messageId, domain: job.domain, ...counts, ...(attempt.error ? { error: attempt.error } : {}) });
  }
}
