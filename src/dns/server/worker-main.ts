// A dns.workers child process (forked by workers.ts): opens the instance's store, builds the
// same authoritative server and resolver as the primary (service.ts buildDnsStack, without
// NOTIFY), and serves on the UDP socket and TCP server the primary hands over IPC.
//
// Invariants
//  - Handles are adopted synchronously in the 'message' handler that delivers them, so no
//    connection is accepted before a handler is attached.
//  - Exits when told to stop, when the primary's IPC channel closes, or when start-up fails
//    (reported to the primary first). Unexpected errors are logged, never fatal to serving.
import type * as dgram from 'node:dgram';
import type * as net from 'node:net';
import { describeError } from '../../core/errors.js';
import { Wharf } from '../../wharf.js';
import { buildDnsStack, closeResolver, makeResolver } from '../service.js';
import type { Closable, DnsStack } from '../service.js';
import { TcpDnsListener, TCP_DEFAULTS } from './tcp.js';
import { UdpDnsListener } from './udp.js';
import type { FromWorker, ToWorker } from './workers.js';

let wharf: Wharf | undefined;
let stack: DnsStack | undefined;
let resolver: Closable | undefined;
let udp: UdpDnsListener | undefined;
let tcp: TcpDnsListener | undefined;
let stopping = false;

function send(m: FromWorker): void {
  if (process.connected) process.send!(m);
}

async function init(config: ToWorker & { type: 'init' }): Promise<void> {
  wharf = new Wharf({ config: config.config, dataDir: config.dataDir });
  await wharf.open();
  resolver = await makeResolver(wharf, wharf.config.dns);
  if (resolver) wharf.dnsLookup = resolver as unknown as NonNullable<Wharf['dnsLookup']>;
  stack = await buildDnsStack(wharf, resolver, { notify: false });
}

async function stop(deadlineMs: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  try {
    await Promise.all([udp?.close(), tcp?.close(deadlineMs)]);
    stack?.zones.stop();
    await closeResolver(resolver);
    await wharf?.stop(deadlineMs);
  } catch (err) {
    wharf?.logger.warn('dns worker stop failed', { err: describeError(err) });
  }
  process.exit(0);
}

process.on('message', (m: ToWorker, handle: unknown) => {
  switch (m.type) {
    case 'init':
      init(m).then(
        () => send({ type: 'built' }),
        (err: unknown) => {
          send({ type: 'failed', error: describeError(err).message });
          setTimeout(() => process.exit(1), 100);
        },
      );
      break;
    case 'udp':
      udp = new UdpDnsListener(stack!.server, stack!.logger, stack!.rrl);
      udp.adopt(handle as dgram.Socket);
      break;
    case 'tcp':
      tcp = new TcpDnsListener(stack!.server, stack!.logger, TCP_DEFAULTS);
      tcp.adopt(handle as net.Server);
      send({ type: 'ready' });
      break;
    case 'stats':
      send({ type: 'stats', id: m.id, stats: { ...stack!.server.stats } });
      break;
    case 'stop':
      void stop(m.deadlineMs);
      break;
  }
});

// The primary went away: nobody will ask us to stop.
process.on('disconnect', () => void stop(1000));
process.on('uncaughtException', (err) => wharf?.logger.error('dns worker: uncaught exception', { err: describeError(err) }));
process.on('unhandledRejection', (err) => wharf?.logger.error('dns worker: unhandled rejection', { err: describeError(err) }));
