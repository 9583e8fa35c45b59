// The admin API's routes (the contract: /work/notes/console-api.md, README "Admin API"), as one
// table: method, path pattern, handler. Handlers return data ({status, body}); the few that
// stream (SSE, raw message) write the response themselves and return null. The table is
// exported so the tests can check that every route but POST /api/login refuses without auth.
//
// Every route that reads one instance takes ?source=NAME (default: the authority instance).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Wharf } from '../wharf.js';
import type { Principal } from './auth.js';
import type { Filter, Hub } from './hub.js';
import { HttpError } from './http.js';
import { listMailboxes, listMessages, rawMessage, showMessage } from './mail.js';
import { messageStream } from '../mail/mailbox.js';
import { countersJson } from './metrics.js';
import { addRecord, deleteRecords, deleteZone, importZone, listZones, showZone } from './zones.js';

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  principal: Principal | null;
  /** The JSON body (an object; {} when empty). */
  body(): Promise<Record<string, unknown>>;
  /** The instance the request names (?source=), else the authority. 404 for an unknown name. */
  wharf(): Wharf;
  hub: Hub;
  /** Login, logout, tokens: provided by the server (index.ts). */
  auth: {
    login(ctx: RouteContext): Promise<Reply>;
    logout(ctx: RouteContext): Reply;
    tokens: { list(): unknown; create(name: unknown): string; revoke(name: string): boolean };
  };
}

export interface Reply {
  status?: number;
  body?: unknown;
}

export interface Route {
  method: 'GET' | 'POST' | 'DELETE' | 'PUT';
  path: string;
  /** Only POST /api/login. */
  public?: true;
  handler(ctx: RouteContext): Promise<Reply | null> | Reply | null;
}

function filterOf(q: URLSearchParams): Filter {
  const f: Filter = {};
  for (const k of ['source', 'service', 'client', 'user', 'session'] as const) {
    const v = q.get(k);
    if (v !== null && v !== '') f[k] = v;
  }
  return f;
}

function intParam(q: URLSearchParams, name: string, def: number, max: number): number {
  const v = q.get(name);
  if (v === null || v === '') return def;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new HttpError(400, `?${name} must be a whole number`);
  return Math.min(n, max);
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string' || v === '') throw new HttpError(400, `"${what}" must be a non-empty string`);
  return v;
}

function queueId(s: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n <= 0) throw new HttpError(404, `no queued message ${s}`);
  return n;
}

const ok = (body: unknown, status = 200): Reply => ({ status, body });
const noContent: Reply = { status: 204 };

export const routes: Route[] = [
  // ---- auth ----
  { method: 'POST', path: '/api/login', public: true, handler: (c) => c.auth.login(c) },
  { method: 'POST', path: '/api/logout', handler: (c) => c.auth.logout(c) },
  { method: 'GET', path: '/api/me', handler: (c) => ok({ user: c.principal!.user, via: c.principal!.via }) },
  { method: 'GET', path: '/api/tokens', handler: (c) => ok(c.auth.tokens.list()) },
  { method: 'POST', path: '/api/tokens', handler: async (c) => ok({ token: c.auth.tokens.create((await c.body()).name) }, 201) },
  {
    method: 'DELETE',
    path: '/api/tokens/:name',
    handler: (c) => {
      if (!c.auth.tokens.revoke(c.params.name!)) throw new HttpError(404, `no token ${c.params.name}`);
      return noContent;
    },
  },

  // ---- live data ----
  { method: 'GET', path: '/api/sources', handler: (c) => ok(c.hub.sourceRefs.map((s) => ({ name: s.name, hostname: s.wharf.config.hostname, listeners: s.wharf.bound.map((b) => ({ ...b, tls: b.tls ?? false })) }))) },
  {
    method: 'GET',
    path: '/api/events',
    handler: (c) => {
      const f = filterOf(c.query);
      if (f.source !== undefined && !c.hub.source(f.source)) throw new HttpError(404, `no source ${f.source}`);
      c.hub.attach(c.res, f);
      return null;
    },
  },
  { method: 'GET', path: '/api/transcripts', handler: (c) => ok({ lines: c.hub.lines(filterOf(c.query), intParam(c.query, 'limit', 1000, 1_000_000)) }) },
  { method: 'GET', path: '/api/sessions', handler: (c) => ok(c.hub.sessions(filterOf(c.query)).slice(0, intParam(c.query, 'limit', 500, 100_000))) },
  { method: 'GET', path: '/api/dns/resolutions', handler: (c) => ok(c.hub.resolutionList(c.query.get('source') || undefined, intParam(c.query, 'limit', 50, 10_000))) },
  { method: 'GET', path: '/api/counters', handler: (c) => ok(countersJson(c.hub)) },

  // ---- domains and users ----
  { method: 'GET', path: '/api/domains', handler: async (c) => ok((await c.wharf().accounts.listDomains()).map((d) => ({ name: d.name, created: d.createdAt.toISOString() }))) },
  {
    method: 'POST',
    path: '/api/domains',
    handler: async (c) => {
      const d = await c.wharf().accounts.addDomain(str((await c.body()).name, 'name'));
      return ok({ name: d.name }, 201);
    },
  },
  {
    method: 'DELETE',
    path: '/api/domains/:name',
    handler: async (c) => {
      if (!(await c.wharf().accounts.deleteDomain(c.params.name!, c.query.get('force') === '1' || c.query.get('force') === 'true'))) throw new HttpError(404, `no domain ${c.params.name}`);
      return noContent;
    },
  },
  {
    method: 'GET',
    path: '/api/users',
    handler: async (c) => ok((await c.wharf().accounts.listUsers(c.query.get('domain') || undefined)).map((a) => ({ address: a.address, admin: a.admin, disabled: a.disabled }))),
  },
  {
    method: 'POST',
    path: '/api/users',
    handler: async (c) => {
      const b = await c.body();
      if (b.admin !== undefined && typeof b.admin !== 'boolean') throw new HttpError(400, '"admin" must be true or false');
      const a = await c.wharf().accounts.addUser(str(b.address, 'address'), str(b.password, 'password'), { admin: b.admin === true });
      return ok({ address: a.address, admin: a.admin, disabled: a.disabled }, 201);
    },
  },
  {
    method: 'DELETE',
    path: '/api/users/:address',
    handler: async (c) => {
      if (!(await c.wharf().accounts.deleteUser(c.params.address!))) throw new HttpError(404, `no user ${c.params.address}`);
      return noContent;
    },
  },
  {
    method: 'POST',
    path: '/api/users/:address/password',
    handler: async (c) => {
      if (!(await c.wharf().accounts.setPassword(c.params.address!, str((await c.body()).password, 'password')))) throw new HttpError(404, `no user ${c.params.address}`);
      return noContent;
    },
  },

  // ---- zones ----
  { method: 'GET', path: '/api/zones', handler: async (c) => ok(await listZones(c.wharf().store)) },
  { method: 'POST', path: '/api/zones', handler: async (c) => ok(await importZone(c.wharf().store, await c.body()), 201) },
  { method: 'GET', path: '/api/zones/:name', handler: async (c) => ok(await showZone(c.wharf().store, c.params.name!)) },
  {
    method: 'DELETE',
    path: '/api/zones/:name',
    handler: async (c) => {
      await deleteZone(c.wharf().store, c.params.name!);
      return noContent;
    },
  },
  { method: 'POST', path: '/api/zones/:name/records', handler: async (c) => ok(await addRecord(c.wharf().store, c.params.name!, await c.body()), 201) },
  { method: 'DELETE', path: '/api/zones/:name/records', handler: async (c) => ok(await deleteRecords(c.wharf().store, c.params.name!, await c.body())) },

  // ---- the outgoing queue ----
  {
    method: 'GET',
    path: '/api/queue',
    handler: async (c) => {
      const list = await c.wharf().store.listQueue();
      return ok(
        list.map((m) => {
          const pending = m.recipients.filter((r) => r.status === 'pending');
          const next = m.jobs.map((j) => j.nextAttemptAt.getTime()).sort((a, b) => a - b)[0];
          return {
            id: m.id,
            from: m.sender,
            to: pending.map((r) => r.address),
            domain: [...new Set(m.jobs.map((j) => j.domain))].join(', '),
            attempts: Math.max(0, ...m.jobs.map((j) => j.attempts)),
            nextAttempt: next === undefined ? null : new Date(next).toISOString(),
            lastError: m.jobs.find((j) => j.lastError)?.lastError ?? null,
            created: m.createdAt.toISOString(),
            size: m.size + m.headerPrefix.length,
          };
        }),
      );
    },
  },
  {
    method: 'GET',
    path: '/api/queue/:id',
    handler: async (c) => {
      const w = c.wharf();
      const m = await w.store.getQueueMessage(queueId(c.params.id!));
      if (!m) throw new HttpError(404, `no queued message ${c.params.id}`);
      const head = await w.store.blobs.read(m.blobId, 0, Math.min(m.size, 64 * 1024));
      const end = head.indexOf('\r\n\r\n');
      return ok({
        id: m.id,
        from: m.sender,
        size: m.size + m.headerPrefix.length,
        envid: m.envid,
        ret: m.ret,
        created: m.createdAt.toISOString(),
        recipients: m.recipients.map((r) => ({ address: r.address, domain: r.domain, status: r.status, lastReply: r.lastReply })),
        jobs: m.jobs.map((j) => ({ id: j.id, domain: j.domain, attempts: j.attempts, nextAttempt: j.nextAttemptAt.toISOString(), lastError: j.lastError, leasedBy: j.leasedBy })),
        header: Buffer.concat([m.headerPrefix, end >= 0 ? head.subarray(0, end + 2) : head]).toString('utf8'),
      });
    },
  },
  {
    method: 'POST',
    path: '/api/queue/:id/retry',
    handler: async (c) => {
      const w = c.wharf();
      const id = queueId(c.params.id!);
      if (!(await w.store.retryQueueMessage(id))) throw new HttpError(404, `no queued message ${id}`);
      w.bus.emit('queue-kick', { id });
      return ok({ id, retry: true });
    },
  },
  {
    method: 'DELETE',
    path: '/api/queue/:id',
    handler: async (c) => {
      if (!(await c.wharf().store.deleteQueueMessage(queueId(c.params.id!)))) throw new HttpError(404, `no queued message ${c.params.id}`);
      return noContent;
    },
  },

  // ---- mailboxes and messages ----
  { method: 'GET', path: '/api/mailboxes', handler: async (c) => ok(await listMailboxes(c.wharf().store, c.query.get('user'))) },
  { method: 'GET', path: '/api/mailboxes/:id/messages', handler: async (c) => ok(await listMessages(c.wharf().store, c.params.id!, intParam(c.query, 'offset', 0, Number.MAX_SAFE_INTEGER), intParam(c.query, 'limit', 50, 1000))) },
  { method: 'GET', path: '/api/mailboxes/:id/messages/:uid', handler: async (c) => ok(await showMessage(c.wharf().store, c.params.id!, c.params.uid!)) },
  {
    method: 'GET',
    path: '/api/mailboxes/:id/messages/:uid/raw',
    handler: async (c) => {
      const store = c.wharf().store;
      const m = await rawMessage(store, c.params.id!, c.params.uid!);
      // Shown as text, never rendered: sandboxed, no sniffing, inline.
      c.res.writeHead(200, {
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Length': m.size,
        'Content-Disposition': 'inline',
        'Content-Security-Policy': 'sandbox',
        'X-Content-Type-Options': 'nosniff',
        'Cache-Control': 'no-store',
      });
      await pipeline(messageStream(store.blobs, m), c.res);
      return null;
    },
  },

  // ---- the proxy cache ----
  {
    method: 'GET',
    path: '/api/proxy/cache',
    handler: async (c) => {
      const inspect = c.wharf().inspectors.get('proxy-cache');
      return ok(inspect ? await inspect() : { enabled: false });
    },
  },
];

export interface CompiledRoute extends Route {
  re: RegExp;
  names: string[];
}

export function compile(list: readonly Route[]): CompiledRoute[] {
  return list.map((r) => {
    const names: string[] = [];
    const re = new RegExp(
      '^' +
        r.path
          .split('/')
          .map((seg) => {
            if (seg.startsWith(':')) {
              names.push(seg.slice(1));
              return '([^/]+)';
            }
            return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
          })
          .join('/') +
        '$',
    );
    return { ...r, re, names };
  });
}

/** The route for a path: {route, params} or {allowed: methods} when only the method is wrong. */
export function match(table: readonly CompiledRoute[], method: string, pathname: string): { route: CompiledRoute; params: Record<string, string> } | { allowed: string[] } | null {
  const allowed: string[] = [];
  for (const r of table) {
    const m = r.re.exec(pathname);
    if (!m) continue;
    if (r.method !== method) {
      allowed.push(r.method);
      continue;
    }
    const params: Record<string, string> = {};
    r.names.forEach((n, i) => {
      try {
        params[n] = decodeURIComponent(m[i + 1]!);
      } catch {
        throw new HttpError(400, 'bad percent-encoding in the path');
      }
    });
    return { route: r, params };
  }
  return allowed.length ? { allowed } : null;
}
