// HTTP plumbing of the console (node:http only): JSON replies, bounded JSON request bodies,
// the security headers every response carries, cookies, and the static files of the page.
//
// Invariants
//  - Every response carries the page's CSP, nosniff, X-Frame-Options DENY and no-referrer.
//  - A request body is read up to a limit: a larger Content-Length is refused before reading
//    (413), a body that grows past the limit is cut off (413). Malformed JSON is a 400.
//  - Static files are served only from the static folder: decoded paths with "..", NUL or
//    backslashes are 404s, and the real path must stay inside the folder (no symlink escape).
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const PAGE_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'";

export function securityHeaders(res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', PAGE_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (status === 204) {
    res.writeHead(204, { 'Cache-Control': 'no-store' });
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, contentType: string, text: string | Buffer, extra: Record<string, string> = {}): void {
  const body = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': body.length, ...extra });
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}

export function isJsonContentType(req: IncomingMessage): boolean {
  const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return ct === 'application/json';
}

/** Reads the body (at most `limit` octets) and parses it as JSON; an empty body is undefined. */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) throw new HttpError(413, `the request body is larger than ${limit} octets`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new HttpError(413, `the request body is larger than ${limit} octets`);
    chunks.push(c as Buffer);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the request body is not valid JSON');
  }
}

export function cookie(req: IncomingMessage, name: string): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

// ---- static files ------------------------------------------------------------------------------

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/**
 * The page's folder: src/console/static beside this file under tsx, and the same source folder
 * when running the compiled dist/src/console/*.js (static files are not compiled).
 */
export function staticRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  if (basename(dirname(dirname(here))) === 'dist') return resolve(here, '..', '..', '..', 'src', 'console', 'static');
  return join(here, 'static');
}

const PLACEHOLDER = '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Wharf console</title></head>\n<body><h1>Wharf console</h1><p>The console page is not installed; the API is at /api/.</p></body></html>\n';

/** Serves "/" and "/static/…"; returns false when the path is not a static one. */
export function serveStatic(root: string, pathname: string, res: ServerResponse): boolean {
  let rel: string;
  if (pathname === '/' || pathname === '/index.html') rel = 'index.html';
  else if (pathname.startsWith('/static/')) {
    try {
      rel = decodeURIComponent(pathname.slice('/static/'.length));
    } catch {
      notFound(res);
      return true;
    }
  } else return false;
  const segments = rel.split('/');
  if (rel === '' || rel.includes('\0') || rel.includes('\\') || segments.some((s) => s === '..' || s === '.' || s === '' || s.startsWith('.')) || !TYPES[extname(rel).toLowerCase()]) {
    notFound(res);
    return true;
  }
  const file = resolve(root, ...segments);
  try {
    const realRoot = realpathSync(root);
    const real = realpathSync(file);
    if (!real.startsWith(realRoot + sep) || !statSync(real).isFile()) throw new Error('outside');
    sendText(res, 200, TYPES[extname(rel).toLowerCase()]!, readFileSync(real), { 'Cache-Control': 'no-cache' });
  } catch {
    if (rel === 'index.html' && !existsSync(file)) sendText(res, 200, TYPES['.html']!, PLACEHOLDER, { 'Cache-Control': 'no-cache' });
    else notFound(res);
  }
  return true;
}

function notFound(res: ServerResponse): void {
  sendText(res, 404, 'text/plain; charset=utf-8', 'not found\n');
}
