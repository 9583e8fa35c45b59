// UDP and TCP on one address and port (RFC 1035 §4.2: DNS uses both). With port 0 the UDP
// socket binds first and TCP then takes the same port; if that port is taken for TCP, both are
// retried on a fresh port.
// startShared() (dns.workers > 1) binds the same way but keeps the raw sockets so that they can
// be handed to worker processes, which then serve on them too.
import * as net from 'node:net';
import type * as dgram from 'node:dgram';
import type { Logger } from '../../core/logger.js';
import type { BoundAddress } from '../../service.js';
import type { ResponseRateLimiter } from './rrl.js';
import type { DnsServer } from './server.js';
import { TcpDnsListener, TCP_DEFAULTS } from './tcp.js';
import type { TcpDnsOptions } from './tcp.js';
import { UdpDnsListener } from './udp.js';

export class DnsListener {
  private udp: UdpDnsListener | null = null;
  private tcp: TcpDnsListener | null = null;

  constructor(
    private readonly server: DnsServer,
    private readonly logger: Logger,
    private readonly opts: { rrl?: ResponseRateLimiter | undefined; tcp?: TcpDnsOptions } = {},
  ) {}

  async start(host: string, port: number): Promise<BoundAddress> {
    const attempts = port === 0 ? 20 : 1;
    let last: unknown;
    for (let i = 0; i < attempts; i++) {
      const udp = new UdpDnsListener(this.server, this.logger, this.opts.rrl);
      const tcp = new TcpDnsListener(this.server, this.logger, this.opts.tcp ?? TCP_DEFAULTS);
      const p = await udp.bind(host, port);
      try {
        const bound = await tcp.bind(host, p);
        this.udp = udp;
        this.tcp = tcp;
        return { ...bound, service: 'dns', transport: 'tcp+udp' };
      } catch (err) {
        last = err;
        await udp.close();
        const code = (err as { cause?: { code?: string } }).cause?.code;
        if (port !== 0 || code !== 'EADDRINUSE') throw err;
      }
    }
    throw last;
  }

  /**
   * Like start(), on sockets that can be passed to other processes (child.send(msg, handle)):
   * resolves the bound address with the UDP socket and the listening TCP server, both already
   * served by this process.
   */
  async startShared(host: string, port: number): Promise<{ bound: BoundAddress; udp: dgram.Socket; tcp: net.Server }> {
    const attempts = port === 0 ? 20 : 1;
    let last: unknown;
    for (let i = 0; i < attempts; i++) {
      const udp = new UdpDnsListener(this.server, this.logger, this.opts.rrl);
      const p = await udp.bind(host, port);
      const server = net.createServer({ allowHalfOpen: false, pauseOnConnect: false });
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host, port: p, exclusive: true }, () => {
            server.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        last = err;
        await udp.close();
        if (port !== 0 || (err as { code?: string }).code !== 'EADDRINUSE') throw err;
        continue;
      }
      const tcp = new TcpDnsListener(this.server, this.logger, this.opts.tcp ?? TCP_DEFAULTS);
      tcp.adopt(server);
      this.udp = udp;
      this.tcp = tcp;
      const addr = server.address() as net.AddressInfo;
      return { bound: { service: 'dns', host: addr.address, port: addr.port, transport: 'tcp+udp' }, udp: udp.boundSocket!, tcp: server };
    }
    throw last;
  }

  async stop(deadlineMs = 1000): Promise<void> {
    await Promise.all([this.udp?.close(), this.tcp?.close(deadlineMs)]);
    this.udp = null;
    this.tcp = null;
  }
}
