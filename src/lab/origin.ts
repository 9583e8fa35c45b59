// The lab's origin web server (www.ibm.com = servereast.backup2.ibm.com): a small node:http
// server behind the caching proxy. It serves a page with images under any path
// ("/index.html", "/run/7/index.html", "/run/7/ketchup.svg"), each with Cache-Control max-age,
// Last-Modified and a strong ETag, and answers conditional requests with 304 (RFC 9110 §13.1.1
// If-None-Match first, §13.1.3 If-Modified-Since otherwise). It counts what it answered, per
// path, so a scenario can prove a hit never reached it.
import * as http from 'node:http';
import { createHash } from 'node:crypto';

export interface OriginRequest {
  method: string;
  path: string;
  status: number;
  conditional: boolean;
  client: string;
  at: number;
}

export interface OriginServer {
  host: string;
  port: number;
  /** Every request answered, in order. */
  readonly log: OriginRequest[];
  /** Requests seen for one path. */
  count(path: string): number;
  stop(): Promise<void>;
}

const LAST_MODIFIED = new Date(Date.UTC(2026, 0, 5, 9, 0, 0));

function page(path: string): string {
  const base = path.replace(/[^/]*$/, '');
  return [
    '<!doctype html>',
    '<html><head><meta charset="utf-8"><title>www.ibm.com (lab origin)</title></head>',
    '<body><h1>Served by servereast.backup2.ibm.com</h1>',
    '<p>This page and its images carry Cache-Control, Last-Modified and ETag: the second fetch through the proxy is a hit.</p>',
    `<img src="${base}ketchup.svg" alt="ketchup"> <img src="${base}pickles.svg" alt="pickles">`,
    '</body></html>',
    '',
  ].join('\n');
}

function image(colour: string, label: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><rect width="120" height="40" fill="${colour}"/><text x="10" y="26" fill="white">${label}</text></svg>\n`;
}

export function startOrigin(opts: { host: string; port: number; maxAgeSeconds: number }): Promise<OriginServer> {
  const log: OriginRequest[] = [];
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    let body: string;
    let type: string;
    if (path.endsWith('/') || path.endsWith('.html')) {
      body = page(path.endsWith('/') ? `${path}index.html` : path);
      type = 'text/html; charset=utf-8';
    } else if (path.endsWith('ketchup.svg') || path.endsWith('pickles.svg')) {
      body = path.endsWith('ketchup.svg') ? image('#b22222', 'ketchup') : image('#6b8e23', 'pickles');
      type = 'image/svg+xml';
    } else {
      log.push({ method: req.method ?? '', path, status: 404, conditional: false, client: req.socket.remoteAddress ?? '', at: Date.now() });
      res.writeHead(404, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
      res.end('not found\n');
      return;
    }
    const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
    const headers = {
      'content-type': type,
      'cache-control': `max-age=${opts.maxAgeSeconds}`,
      'last-modified': LAST_MODIFIED.toUTCString(),
      etag,
    };
    const inm = req.headers['if-none-match'];
    const ims = req.headers['if-modified-since'];
    const conditional = inm !== undefined || ims !== undefined;
    // RFC 9110 §13.2.2: If-None-Match takes precedence over If-Modified-Since.
    const notModified = inm !== undefined ? inm.split(',').map((s) => s.trim().replace(/^W\//, '')).some((t) => t === etag || t === '*') : ims !== undefined && Date.parse(ims) >= LAST_MODIFIED.getTime();
    const status = notModified ? 304 : 200;
    log.push({ method: req.method ?? '', path, status, conditional, client: req.socket.remoteAddress ?? '', at: Date.now() });
    if (notModified) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.host, port: opts.port }, () => {
      const addr = server.address() as { port: number };
      resolve({
        host: opts.host,
        port: addr.port,
        log,
        count: (p) => log.filter((r) => r.path === p).length,
        stop: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            server.closeAllConnections();
          }),
      });
    });
  });
}
