// The web console and its JSON admin API (issue 9). One console shows one or more Wharf
// instances: `wharf start` shows its own instance; `wharf lab` shows every instance of the lab
// (root, TLD and authoritative DNS servers, resolvers, two mail domains, FTP, proxy).
//
// node:http only. The request path:
//   /, /static/…   the page (public; src/console/static, see http.ts)
//   /metrics       Prometheus text (open unless console.metrics_auth)
//   /api/…         JSON; every route but POST /api/login needs a session cookie or a bearer
//                  token (401 otherwise, checked before routing so unknown /api paths do not
//                  reveal themselves); an unsafe method under a cookie session must carry
//                  Content-Type: application/json (415) so a cross-site form cannot use it.
//
// Invariants
//  - Nothing assumes one instance: sources are looked up by name per request; addSource()
//    subscribes a new instance at any time.
//  - Errors are {"error": text} with a status; a handler's unexpected error is logged and
//    answered 500 "internal error" (no stack, no message). The server keeps serving.
//  - Passwords are never logged; tokens are stored hashed (auth.ts).
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { describeError, isWharfError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { isLoopback, normalizeAddress } from '../core/net.js';
import type { Wharf } from '../wharf.js';
import { SessionStore, TokenStore, tokensFile } from './auth.js';
import type { Principal } from './auth.js';
import { HttpError, cookie, isJsonContentType, readJson, securityHeaders, sendJson, sendText, serveStatic, staticRoot } from './http.js';
import { Hub } from './hub.js';
import { renderMetrics } from './metrics.js';
import { compile, match, routes } from './routes.js';
import type { Reply, RouteContext } from './routes.js';

export interface ConsoleSource {
  /** How the console names this instance ("hamburger.edu", "root", "wharf"). */
  name: string;
  wharf: Wharf;
}

export interface ConsoleOptions {
  host: string;
  /** 0 = any free port. */
  port: number;
  /** The instances shown. Their buses feed transcripts and DNS traces; their stores the views. */
  sources: ConsoleSource[];
  /**
   * The instance whose accounts log in to the admin part (an account with admin = true), and
   * whose store answers domain/user/zone/queue routes when a route names no source.
   */
  authority: Wharf;
  /** Transcript lines kept in memory (console.transcript_buffer). */
  transcriptBuffer: number;
  logger: Logger;
  /** A login session ends after this long without a request (default: the authority's console.session_ttl). */
  sessionTtlMs?: number;
  /** /metrics needs auth (default: the authority's console.metrics_auth). */
  metricsAuth?: boolean;
  /** Largest request body (default: the authority's console.max_body). */
  maxBodyBytes?: number;
  /** SSE heartbeat period (default 15 s; tests shorten it). */
  heartbeatMs?: number;
  /** Serve HTTPS with the authority's certificate (default: the authority's console.tls). */
  tls?: boolean;
}

export interface RunningConsole {
  host: string;
  port: number;
  /** Adds an instance after start (the lab adds instances as it builds them). */
  addSource(source: ConsoleSource): void;
  stop(): Promise<void>;
}

export const SESSION_COOKIE = 'wharf_session';

/**
 * May a request carry a password or a token? Over TLS, or on a loopback listener (judged by the
 * address the client reached, like the cleartext rule of POP3/IMAP/SMTP), or when the config
 * explicitly allows cleartext secrets (auth.allow_insecure).
 */
export function mayUseSecrets(c: { encrypted: boolean; localAddress: string; allowInsecure: boolean }): boolean {
  return c.encrypted || isLoopback(normalizeAddress(c.localAddress)) || c.allowInsecure;
}
const UNSAFE = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);

export async function startConsole(opts: ConsoleOptions): Promise<RunningConsole> {
  const cfg = opts.authority.config.console;
  const log = opts.logger.child({ service: 'console' });
  const sessions = new SessionStore(opts.sessionTtlMs ?? cfg.session_ttl);
  const tokens = new TokenStore(tokensFile(opts.authority.dataDir));
  const metricsAuth = opts.metricsAuth ?? cfg.metrics_auth;
  const maxBody = opts.maxBodyBytes ?? cfg.max_body;
  const hub = new Hub(opts.transcriptBuffer, opts.heartbeatMs);
  for (const s of opts.sources) hub.add(s);
  const table = compile(routes);
  const root = staticRoot();

  /** A session holds only while its account is still an enabled admin (demoting one ends its sessions). */
  const principalOf = async (req: IncomingMessage): Promise<Principal | null> => {
    const authz = req.headers.authorization;
    if (authz !== undefined) {
      const m = /^Bearer[ ]+(\S+)\s*$/i.exec(authz);
      const name = m ? tokens.verify(m[1]!) : null;
      return name === null ? null : { user: `token:${name}`, via: 'token' };
    }
    const sid = cookie(req, SESSION_COOKIE);
    const user = sid ? sessions.get(sid) : null;
    if (user === null) return null;
    const account = await opts.authority.store.getAccount(user);
    if (!account?.admin || account.disabled) {
      sessions.delete(sid!);
      return null;
    }
    return { user, via: 'session' };
  };

  const sessionCookie = (req: IncomingMessage, value: string, maxAge?: number): string =>
    `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/${maxAge !== undefined ? `; Max-Age=${maxAge}` : ''}${(req.socket as { encrypted?: boolean }).encrypted ? '; Secure' : ''}`;

  const auth: RouteContext['auth'] = {
    async login(c) {
      const b = await c.body();
      if (typeof b.username !== 'string' || typeof b.password !== 'string' || !b.username) throw new HttpError(400, 'give "username" and "password"');
      const authority = opts.authority;
      const remote = normalizeAddress(c.req.socket.remoteAddress ?? '');
      const r = await authority.authenticator.authenticate({ username: b.username, password: b.password, remote });
      if (!r.ok) {
        log.info('console login failed', { user: authority.authenticator.loginAddress(b.username), remote, reason: r.reason });
        throw new HttpError(401, 'wrong user name or password');
      }
      const account = await authority.store.getAccountById(r.account.id);
      if (!account?.admin) {
        log.info('console login refused: not an admin', { user: r.account.address, remote });
        throw new HttpError(403, 'this account is not an administrator');
      }
      const sid = sessions.create(account.address);
      c.res.setHeader('Set-Cookie', sessionCookie(c.req, sid));
      log.info('console login', { user: account.address, remote });
      return { status: 200, body: { user: account.address } };
    },
    logout(c) {
      const sid = cookie(c.req, SESSION_COOKIE);
      if (sid) sessions.delete(sid);
      c.res.setHeader('Set-Cookie', sessionCookie(c.req, '', 0));
      return { status: 204 };
    },
    tokens: {
      list: () => tokens.list(),
      create: (name) => {
        if (typeof name !== 'string') throw new HttpError(400, 'give "name"');
        return tokens.create(name);
      },
      revoke: (name) => tokens.revoke(name),
    },
  };

  const sourceWharf = (q: URLSearchParams): Wharf => {
    const name = q.get('source');
    if (name === null || name === '') return opts.authority;
    const s = hub.source(name);
    if (!s) throw new HttpError(404, `no source ${name}`);
    return s.wharf;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    securityHeaders(res);
    const method = req.method ?? 'GET';
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://console.invalid');
    } catch {
      throw new HttpError(400, 'bad request target');
    }
    const path = url.pathname;
    if (!path.startsWith('/api/') && path !== '/api') {
      if (path === '/metrics' && (method === 'GET' || method === 'HEAD')) {
        if (metricsAuth && !(await principalOf(req))) throw new HttpError(401, 'log in or give a bearer token');
        sendText(res, 200, 'text/plain; version=0.0.4; charset=utf-8', await renderMetrics(hub, { sseClients: hub.clientCount, sessions: sessions.size }), { 'Cache-Control': 'no-store' });
        return;
      }
      if ((method === 'GET' || method === 'HEAD') && serveStatic(root, path, res)) return;
      throw new HttpError(404, 'not found');
    }
    const isLogin = path === '/api/login' && method === 'POST';
    // Passwords and tokens never cross a network in clear: off loopback the API needs HTTPS
    // (console.tls) unless auth.allow_insecure says otherwise, as for POP3/IMAP/SMTP logins.
    if (!secretsAllowed(req)) throw new HttpError(403, 'the admin API needs HTTPS on this address (set console.tls = true), or auth.allow_insecure');
    const principal = isLogin ? null : await principalOf(req);
    if (!isLogin && !principal) throw new HttpError(401, 'log in or give a bearer token');
    // CSRF: a cross-site form cannot send application/json (login included: no login CSRF).
    if (UNSAFE.has(method) && (isLogin || principal?.via === 'session') && !isJsonContentType(req)) throw new HttpError(415, 'send Content-Type: application/json');
    const found = match(table, method, path);
    if (!found) throw new HttpError(404, `no route ${method} ${path}`);
    if ('allowed' in found) {
      res.setHeader('Allow', [...new Set(found.allowed)].join(', '));
      throw new HttpError(405, `${method} is not allowed on ${path}`);
    }
    let bodyRead: Promise<Record<string, unknown>> | undefined;
    const ctx: RouteContext = {
      req,
      res,
      params: found.params,
      query: url.searchParams,
      principal,
      hub,
      auth,
      body: () =>
        (bodyRead ??= readJson(req, maxBody).then((v) => {
          if (v === undefined) return {};
          if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'the request body must be a JSON object');
          return v as Record<string, unknown>;
        })),
      wharf: () => sourceWharf(url.searchParams),
    };
    const reply: Reply | null = await found.route.handler(ctx);
    if (reply) sendJson(res, reply.status ?? 200, reply.body ?? null);
  };

  const useTls = opts.tls ?? cfg.tls;
  const secretsAllowed = (req: IncomingMessage): boolean =>
    mayUseSecrets({ encrypted: (req.socket as { encrypted?: boolean }).encrypted === true, localAddress: req.socket.localAddress ?? '', allowInsecure: opts.authority.config.auth.allow_insecure });
  const serverOptions = { requestTimeout: 60_000, headersTimeout: 30_000, maxHeaderSize: 32 * 1024 };
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      const { status, body } = errorReply(err);
      if (status === 500) log.error('console request failed', { method: req.method, path: (req.url ?? '').split('?')[0], err: describeError(err) });
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (status === 413) res.setHeader('Connection', 'close');
      sendJson(res, status, body);
      // An unread body after an early answer: stop reading, let the close go out.
      if (!req.complete) req.on('error', () => {}).resume();
    });
  };
  const server: Server = useTls
    ? (createHttpsServer({ ...serverOptions, key: opts.authority.tls.key, cert: opts.authority.tls.cert }, onRequest) as unknown as Server)
    : createServer(serverOptions, onRequest);
  server.on('clientError', (_err, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.host, port: opts.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error('console server error', { err: describeError(err) }));
  const addr = server.address() as AddressInfo;
  log.debug('listening', { host: addr.address, port: addr.port });

  let stopped = false;
  return {
    host: addr.address,
    port: addr.port,
    addSource(source) {
      hub.add(source);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      hub.close();
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      const timer = setTimeout(() => {
        for (const s of sockets) s.destroy();
      }, 2000);
      timer.unref();
      await closed;
      clearTimeout(timer);
    },
  };
}

/** An error as {status, body}: HttpError and the store's/accounts' WharfErrors map to 4xx. */
export function errorReply(err: unknown): { status: number; body: { error: string; [k: string]: unknown } } {
  if (err instanceof HttpError) return { status: err.status, body: { error: err.message, ...err.extra } };
  if (isWharfError(err)) {
    const status: Record<string, number> = {
      WHARF_INVALID: 400,
      WHARF_NO_DOMAIN: 400,
      WHARF_ZONE_INVALID: 400,
      WHARF_DNS_FORMAT: 400,
      WHARF_EXISTS: 409,
      WHARF_NOT_EMPTY: 409,
      WHARF_NOT_FOUND: 404,
    };
    const s = status[err.code];
    if (s) return { status: s, body: { error: err.message } };
  }
  return { status: 500, body: { error: 'internal error' } };
}
