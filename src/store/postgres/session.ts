// Sessions and errors of the PostgreSQL engine.
// checkout(): a client out of the pool for a transaction. While checked out, node-pg's pool no
// longer listens for the client's 'error' event, and an unheard 'error' (the server restarting,
// the backend being terminated) would crash the process: checkout() listens for it, and a client
// that failed is destroyed on release rather than returned to the pool.
// mapError(): driver errors become WharfErrors with the store's codes (unique violation →
// WHARF_EXISTS, bad data → WHARF_INVALID, connection trouble → WHARF_STORE_UNAVAILABLE).
import type { Pool, PoolClient } from 'pg';
import { WharfError } from '../../core/errors.js';

export interface Session {
  client: PoolClient;
  /** Returns the client to the pool (destroys it when broken or when it failed meanwhile). */
  release(broken?: boolean): void;
}

export async function checkout(pool: Pool): Promise<Session> {
  const client = await pool.connect();
  let failed = false;
  const onError = () => {
    failed = true; // the running query rejects with the error; nothing else to do here
  };
  client.on('error', onError);
  let released = false;
  return {
    client,
    release(broken?: boolean) {
      if (released) return;
      released = true;
      client.removeListener('error', onError);
      client.release(broken || failed ? true : undefined);
    },
  };
}

export function pgCode(e: unknown): string | undefined {
  const c = (e as { code?: unknown })?.code;
  return typeof c === 'string' ? c : undefined;
}

/** Maps driver errors to WharfErrors with the store's codes; others pass through. */
export function mapError(e: unknown): unknown {
  if (e instanceof WharfError) return e;
  const code = pgCode(e);
  const msg = e instanceof Error ? e.message : String(e);
  if (code === '23505') return new WharfError('WHARF_EXISTS', msg, undefined, { cause: e });
  if (code === '23503') return new WharfError('WHARF_NOT_FOUND', msg, undefined, { cause: e });
  if (code !== undefined && (code.startsWith('22') || code === '54000')) return new WharfError('WHARF_INVALID', msg, undefined, { cause: e });
  // connection trouble: refused, reset, server shutting down, too many connections, timeouts
  if (
    code !== undefined &&
    (code.startsWith('08') || code.startsWith('57P') || code === '53300' || code.startsWith('E') /* ECONNREFUSED, ECONNRESET, ETIMEDOUT, … */)
  ) {
    return new WharfError('WHARF_STORE_UNAVAILABLE', `the database is unavailable: ${msg}`, undefined, { cause: e });
  }
  if (/Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(msg)) {
    return new WharfError('WHARF_STORE_UNAVAILABLE', `the database is unavailable: ${msg}`, undefined, { cause: e });
  }
  return e;
}

