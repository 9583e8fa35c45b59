// The SMTP (MX, submission, submissions) and the outgoing queue runner service(s) of an
// instance: a factory reading the instance's config.
//
// smtp.workers > 1 serves the three listeners from that many processes through the worker pool
// (src/core/worker-pool.ts, least-connections hand-off as POP3 and IMAP: the primary accepts and
// gives each connection, unread, to the process with the fewest live ones; STARTTLS and the
// implicit TLS of submissions work as the socket moves before any byte is read).
//
// Invariants
//  - The queue runner runs in the primary only: a child runs only the pool's sections, so its
//    `queue.enabled` is off. Mail a child accepts reaches the queue through the shared store;
//    the child's 'queue-kick' (accept.ts, after the enqueue is durable) is forwarded over IPC to
//    the primary's bus (the pool's `forward`, while the primary's runner listens), so a message
//    queued in a child is picked up as promptly as one queued here. Were a kick lost (a child
//    dying in between), the runner's own poll (queue.ts, POLL_MS) still finds the job.
//  - The runner starts before the pool, so the children are told to forward 'queue-kick' from
//    their first connection on.
//  - Per process: connection limits (smtp.max_connections, max_per_ip apply to each process),
//    SQLite group commit (processes writing one SQLite file take turns on its write lock,
//    busy_timeout); the children's transcripts reach the primary's bus while someone listens.
//
// Measured (bench/smtp.ts --workers, 2 shared cores, SQLite): 2 processes were no faster than 1
// and cost more CPU per message (each process compiles, collects and re-reads SQLite pages the
// other changed; the hand-off adds IPC). Most of the CPU of a durable 250 on ext4 is the
// kernel's (creating the blob file). Not measured on a machine with idle cores.
import { pooledServices } from '../core/worker-pool.js';
import type { Service, ServiceFactory } from '../service.js';
import { QueueRunner } from './queue.js';
import { smtpServer } from './server.js';

export const smtpServices: ServiceFactory = (wharf) => {
  const cfg = wharf.config;
  const listeners: Service[] = [];
  if (cfg.smtp.enabled) listeners.push(smtpServer(wharf, 'smtp', 'mx'));
  if (cfg.submission.enabled) listeners.push(smtpServer(wharf, 'submission', 'submission'));
  if (cfg.submissions.enabled) listeners.push(smtpServer(wharf, 'submissions', 'submission'));
  const out: Service[] = [];
  if (cfg.queue.enabled) out.push(new QueueRunner(wharf));
  out.push(...pooledServices(wharf, { name: 'smtp', workers: cfg.smtp.workers, services: listeners, balance: 'least-connections', forward: ['queue-kick'] }));
  return out.length ? out : null;
};
