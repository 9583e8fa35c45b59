// `wharf lab`: the textbook Internet on loopback (issue 9). One process runs the slides' world
// (world.ts): a root DNS server, TLD servers for edu., fr. and com., authoritative servers for
// hamburger.edu, crepes.fr, umass.edu, poly.edu and ibm.com, a local resolver per site whose
// root hints point at the lab root, mail servers for crepes.fr (alice) and hamburger.edu (bob),
// an FTP server, a caching proxy with an origin web server behind it, and the console showing
// every instance. Scenarios (scenarios/*.ts) play the slides' exchanges against it.
//
//   const lab = await startLab({ net: '127.53' });
//   const r = await lab.runScenario('alice-to-bob');   // r.ok, r.transcript, r.dns
//   await lab.stop();
//
// Invariants
//  - Only loopback addresses: every listener binds <net>.x.y with net = 127.N (parseNet checks).
//  - Each instance has its own data directory under the lab's; a temporary one is removed at
//    stop(), one given by the caller (--data) is kept.
//  - stop() stops everything that start made, even after a partial start.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { loadConfig } from '../config/load.js';
import { schemaEntries } from '../config/schema.js';
import { Logger } from '../core/logger.js';
import type { RunningConsole } from '../console/index.js';
import { Wharf } from '../wharf.js';
import { startOrigin } from './origin.js';
import type { OriginServer } from './origin.js';
import { startRecursiveChain } from './recursive-chain.js';
import type { RecursiveChain } from './recursive-chain.js';
import { scenarios } from './scenarios/index.js';
import type { DnsStep, ScenarioResult } from './scenarios/types.js';
import { ScenarioError } from './line-client.js';
import { DEFAULT_NET, DEFAULT_PORTS, LAB_TTL, WEB_MAX_AGE, buildWorld } from './world.js';
import type { InstanceSpec, LabPorts, World } from './world.js';

export type { DnsStep, ScenarioResult } from './scenarios/types.js';
export { DEFAULT_NET, DEFAULT_PORTS } from './world.js';
export type { LabPorts, World } from './world.js';

export interface LabOptions {
  /** "127.N": every lab address is 127.N.x.y (default 127.53). */
  net?: string;
  ports?: Partial<LabPorts>;
  /** Keep the instances' data here (not removed at stop); default a temporary folder. */
  dataDir?: string;
  /** Start the web console (default true). */
  console?: boolean;
  /** Where the instances' logs go (default standard error; null = nowhere). */
  logStream?: Writable | null;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

export interface Lab {
  world: World;
  /** Every instance by its lab name ("root", "edu", "hamburger.edu", "cache.poly.edu", …). */
  instances: Record<string, Wharf>;
  /** The console showing every instance, or null (with consoleError saying why). */
  console: RunningConsole | null;
  consoleError: string | null;
  /** The console's admin account (on the hamburger.edu instance). */
  admin: { address: string; password: string };
  origin: OriginServer;
  /** The recursing fronts drawn in the dns-recursive picture. */
  recursive: RecursiveChain;
  dataDir: string;
  runScenario(name: string): Promise<ScenarioResult>;
  /** Addresses, services, accounts and passwords, one line each. */
  describe(): string[];
  stop(): Promise<void>;
  /** Waits until the resolvers' cached answers of an earlier run have expired (TTL LAB_TTL). */
  coldCache(key: string): Promise<void>;
  /** Marks a resolver as having just been used (see coldCache). */
  usedCache(key: string): void;
}

/** Sections with `enabled` and `port` keys: the listeners. */
function listenerSections(): string[] {
  const keys = new Set(schemaEntries().map(([k]) => k));
  return [...keys].filter((k) => k.endsWith('.enabled') && keys.has(k.replace(/\.enabled$/, '.port'))).map((k) => k.replace(/\.enabled$/, ''));
}

function overridesFor(spec: InstanceSpec, logLevel: string): Record<string, unknown> {
  const wanted = new Set(spec.services);
  const set: Record<string, unknown> = { 'log.level': logLevel };
  for (const s of listenerSections()) {
    set[`${s}.enabled`] = wanted.has(s);
    set[`${s}.host`] = spec.address;
  }
  if (!wanted.has('smtp') && !wanted.has('submission')) set['queue.enabled'] = false;
  return { ...set, ...spec.set };
}

export const scenarioNames = (): string[] => Object.keys(scenarios);

export async function startLab(opts: LabOptions = {}): Promise<Lab> {
  const ports: LabPorts = { ...DEFAULT_PORTS, ...opts.ports };
  const world = buildWorld(opts.net ?? DEFAULT_NET, ports);
  const temporary = opts.dataDir === undefined;
  const dataDir = opts.dataDir !== undefined ? resolve(opts.dataDir) : mkdtempSync(join(tmpdir(), 'wharf-lab-'));
  mkdirSync(dataDir, { recursive: true });
  const logStream = opts.logStream === undefined ? process.stderr : opts.logStream;
  const logLevel = opts.logLevel ?? 'warn';
  const instances: Record<string, Wharf> = {};
  let origin: OriginServer | null = null;
  let chain: RecursiveChain | null = null;
  let consoleHandle: RunningConsole | null = null;
  let consoleError: string | null = null;
  const admin = { address: 'admin@hamburger.edu', password: randomBytes(9).toString('base64url') };
  const lastUse = new Map<string, number>();

  const stopAll = async (): Promise<void> => {
    await consoleHandle?.stop().catch(() => {});
    await chain?.stop().catch(() => {});
    await origin?.stop().catch(() => {});
    // Every instance made, started or only opened (stop() closes the store either way).
    await Promise.allSettled(Object.values(instances).map((w) => w.stop(1000)));
    if (temporary) rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    // Build every instance (store, zones, accounts) first, then start them together.
    for (const spec of world.instances) {
      const config = loadConfig({ overrides: overridesFor(spec, logLevel) });
      const wharf = new Wharf({ config, dataDir: join(dataDir, spec.name), logStream });
      await wharf.open();
      const existing = new Set((await wharf.accounts.listDomains()).map((d) => d.name));
      for (const d of spec.domains) if (!existing.has(d)) await wharf.accounts.addDomain(d);
      for (const u of spec.users) {
        if (await wharf.store.getAccount(u.address)) await wharf.accounts.setPassword(u.address, u.password);
        else await wharf.accounts.addUser(u.address, u.password);
      }
      for (const [originName, text] of Object.entries(spec.zones)) await wharf.store.putZone(originName, text, 1);
      if (spec.name === 'hamburger.edu') {
        if (await wharf.store.getAccount(admin.address)) await wharf.accounts.setPassword(admin.address, admin.password);
        else await wharf.accounts.addUser(admin.address, admin.password, { admin: true });
      }
      if (spec.name === 'ftp.cs.umass.edu') mkdirSync(join(wharf.dataDir, 'ftp', world.accounts.ftp.address, 'pub'), { recursive: true });
      instances[spec.name] = wharf;
    }
    const results = await Promise.allSettled(world.instances.map((spec) => instances[spec.name]!.start()));
    const failed = results.map((r, i) => (r.status === 'rejected' ? `${world.instances[i]!.name} (${world.instances[i]!.address}) did not start: ${(r.reason as Error).message}` : '')).filter(Boolean);
    if (failed.length) {
      const busy = failed.some((f) => f.includes('EADDRINUSE')) ? ` (another lab on ${world.net}? try another --net)` : '';
      throw new Error(`${failed[0]}${failed.length > 1 ? ` (and ${failed.length - 1} more)` : ''}${busy}`);
    }
    origin = await startOrigin({ host: world.hosts['servereast.backup2.ibm.com']!, port: ports.http, maxAgeSeconds: WEB_MAX_AGE });
    chain = await startRecursiveChain(world, instances);
    if (opts.console !== false) {
      try {
        const { startConsole } = await import('../console/index.js');
        consoleHandle = await startConsole({
          host: world.hosts['console.lab']!,
          port: ports.console,
          sources: world.instances.map((s) => ({ name: s.name, wharf: instances[s.name]! })),
          authority: instances['hamburger.edu']!,
          transcriptBuffer: 5000,
          logger: new Logger({ level: logLevel, stream: logStream }),
        });
      } catch (err) {
        consoleError = (err as Error).message;
      }
    }
  } catch (err) {
    await stopAll();
    throw err;
  }

  const originServer = origin;
  const recursive = chain;
  const lab: Lab = {
    world,
    instances,
    console: consoleHandle,
    consoleError,
    admin,
    origin: originServer,
    recursive,
    dataDir,
    async runScenario(name: string): Promise<ScenarioResult> {
      const scenario = scenarios[name];
      if (!scenario) throw new Error(`no scenario "${name}" (known: ${Object.keys(scenarios).join(', ')})`);
      const transcript: string[] = [];
      const dns: DnsStep[] = [];
      const t0 = Date.now();
      try {
        await scenario.run({ lab, transcript, dns });
        return { name, ok: true, transcript, dns, ms: Date.now() - t0 };
      } catch (err) {
        const reason = err instanceof ScenarioError ? err.message : `internal error: ${(err as Error).message}`;
        return { name, ok: false, reason, transcript, dns, ms: Date.now() - t0 };
      }
    },
    describe(): string[] {
      const out: string[] = [`The slides' world on ${world.net}.0.0/16 (loopback only); data in ${dataDir}${temporary ? ' (removed at exit)' : ''}`];
      for (const spec of world.instances) {
        const w = instances[spec.name]!;
        const listeners = w.bound.map((b) => `${b.service} ${b.port}${b.transport === 'udp' ? '/udp' : ''}`);
        out.push(`  ${spec.address.padEnd(14)} ${spec.hostname.padEnd(20)} ${spec.role}`);
        if (listeners.length) out.push(`  ${''.padEnd(14)} ${''.padEnd(20)} listening: ${[...new Set(listeners)].join(', ')}`);
      }
      out.push(`  ${originServer.host.padEnd(14)} ${'servereast.backup2.ibm.com'.padEnd(20)} origin web server (www.ibm.com), http ${originServer.port}`);
      out.push(`  ${recursive.describe()}`);
      out.push('Hosts the scenarios connect from:');
      for (const n of ['alice.crepes.fr', 'bob.hamburger.edu', 'cis.poly.edu']) out.push(`  ${world.hosts[n]!.padEnd(14)} ${n}`);
      out.push('Accounts:');
      const { alice, bob, ftp } = world.accounts;
      out.push(`  ${alice.address} password ${alice.password}  (login "${alice.login}" at mail.crepes.fr ${world.hosts['mail.crepes.fr']}: submission ${ports.submission}, POP3 ${ports.pop3}, IMAP ${ports.imap})`);
      out.push(`  ${bob.address} password ${bob.password}  (login "${bob.login}" at mail.hamburger.edu ${world.hosts['mail.hamburger.edu']}: POP3 ${ports.pop3}, IMAP ${ports.imap}, submission ${ports.submission})`);
      out.push(`  ${ftp.address} password ${ftp.password}  (login "${ftp.login}" at ftp.cs.umass.edu ${world.hosts['ftp.cs.umass.edu']}:${ports.ftp})`);
      out.push(`  ${admin.address} password ${admin.password}  (console admin)`);
      if (consoleHandle) out.push(`Console: http://${consoleHandle.host}:${consoleHandle.port}/`);
      else out.push(`Console: not running${consoleError ? ` (${consoleError})` : ''}`);
      out.push(`Try: dig @${world.hosts['dns.poly.edu']} -p ${ports.dns} gaia.cs.umass.edu   |   curl -x http://${world.hosts['cache.poly.edu']}:${ports.proxy} http://www.ibm.com:${originServer.port}/index.html`);
      return out;
    },
    stop: stopAll,
    async coldCache(key: string): Promise<void> {
      const last = lastUse.get(key);
      if (last === undefined) return;
      const wait = last + LAB_TTL * 1000 + 300 - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    },
    usedCache(key: string): void {
      lastUse.set(key, Date.now());
    },
  };
  return lab;
}
