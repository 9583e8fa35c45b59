// The lab's scenarios by name, in the order `--scenario all` plays them.
import { aliceToBob } from './alice-to-bob.js';
import { dnsIterated } from './dns-iterated.js';
import { dnsRecursive } from './dns-recursive.js';
import { ftpSession } from './ftp-session.js';
import type { Scenario } from './types.js';
import { webCache } from './web-cache.js';

export const scenarios: Record<string, Scenario> = {
  'alice-to-bob': aliceToBob,
  'dns-iterated': dnsIterated,
  'dns-recursive': dnsRecursive,
  'ftp-session': ftpSession,
  'web-cache': webCache,
};
