// The SMTP (MX, submission, submissions) and the outgoing queue runner service(s) of an instance: a factory reading the instance's config.
import type { Service, ServiceFactory } from '../service.js';
import { QueueRunner } from './queue.js';
import { smtpServer } from './server.js';

export const smtpServices: ServiceFactory = (wharf) => {
  const cfg = wharf.config;
  const out: Service[] = [];
  if (cfg.smtp.enabled) out.push(smtpServer(wharf, 'smtp', 'mx'));
  if (cfg.submission.enabled) out.push(smtpServer(wharf, 'submission', 'submission'));
  if (cfg.submissions.enabled) out.push(smtpServer(wharf, 'submissions', 'submission'));
  if (cfg.queue.enabled) out.push(new QueueRunner(wharf));
  return out.length ? out : null;
};
