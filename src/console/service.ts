// The console as a service of one instance (`console.*`, 8025 on the embedded default): it
// shows the instance itself (one source, named by its hostname), and the instance's admin
// accounts log in to it. Started last (src/services.ts), so every other listener is known.
import type { BoundAddress, Service, ServiceFactory } from '../service.js';
import { startConsole } from './index.js';
import type { RunningConsole } from './index.js';

export const consoleServices: ServiceFactory = (wharf) => {
  const cfg = wharf.config.console;
  if (!cfg.enabled) return null;
  let running: RunningConsole | null = null;
  const svc: Service = {
    name: 'console',
    async start(): Promise<BoundAddress[]> {
      running = await startConsole({
        host: cfg.host,
        port: cfg.port,
        sources: [{ name: wharf.config.hostname, wharf }],
        authority: wharf,
        transcriptBuffer: cfg.transcript_buffer,
        logger: wharf.logger,
      });
      return [{ service: 'console', host: running.host, port: running.port, transport: 'tcp', ...(cfg.tls ? { tls: true } : {}) }];
    },
    async stop(): Promise<void> {
      await running?.stop();
      running = null;
    },
  };
  return svc;
};
