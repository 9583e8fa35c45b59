// openStore: builds the configured Store engine and its BlobStore, runs init(), returns it.
//  - sqlite: the file store.path ("" = <data>/wharf.db; relative paths are under the data dir),
//    bodies on the filesystem at <data>/blobs (store.blobs "auto" or "fs"; "db" is refused:
//    SQLite keeps bodies out of the database file);
//  - postgres: the engine is loaded with a dynamic import so that a build without it still runs
//    SQLite; bodies in the database (store.blobs "auto"/"db") or on the filesystem ("fs").
// The returned store is initialised; on failure nothing is left open.
import { join, resolve } from 'node:path';
import { WharfError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Config } from '../config/schema.js';
import { FsBlobStore } from './blobs-fs.js';
import { SqliteStore } from './sqlite/index.js';
import type { BlobStore, Store } from './store.js';

export interface OpenStoreOptions {
  config: Config['store'];
  dataDir: string;
  logger: Logger;
  fsync: boolean;
}

interface PostgresModule {
  PostgresStore: new (opts: { url: string; schema: string; poolSize: number; blobs: BlobStore | 'db'; fsync: boolean; logger?: Logger }) => Store;
}

async function loadPostgres(): Promise<PostgresModule> {
  // A variable specifier keeps TypeScript from requiring the module at build time.
  const specifier = './postgres/index.js';
  let mod: Partial<PostgresModule>;
  try {
    mod = (await import(specifier)) as Partial<PostgresModule>;
  } catch (err) {
    const code = (err as { code?: unknown })?.code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new WharfError('WHARF_CONFIG_INVALID', 'postgres engine not available', { key: 'store.engine', value: 'postgres' }, { cause: err });
    }
    throw err;
  }
  if (typeof mod.PostgresStore !== 'function') throw new WharfError('WHARF_CONFIG_INVALID', 'postgres engine not available', { key: 'store.engine', value: 'postgres' });
  return mod as PostgresModule;
}

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const { config, dataDir, logger, fsync } = opts;
  const log = logger.child({ component: 'store' });
  const fsBlobs = () => new FsBlobStore(join(resolve(dataDir), 'blobs'), { fsync });
  let store: Store;
  if (config.engine === 'sqlite') {
    if (config.blobs === 'db') {
      throw new WharfError('WHARF_CONFIG_INVALID', 'store.blobs = "db" needs store.engine = "postgres"; SQLite keeps bodies in <data>/blobs (use "auto" or "fs")', {
        key: 'store.blobs',
        value: config.blobs,
        expected: '"auto" or "fs" with store.engine = "sqlite"',
      });
    }
    const path = resolve(dataDir, config.path === '' ? 'wharf.db' : config.path);
    store = new SqliteStore({ path, blobs: fsBlobs(), fsync, logger: log });
  } else if (config.engine === 'postgres') {
    const { PostgresStore } = await loadPostgres();
    store = new PostgresStore({
      url: config.url,
      schema: config.schema,
      poolSize: config.pool_size,
      blobs: config.blobs === 'fs' ? fsBlobs() : 'db',
      fsync,
      logger: log,
    });
  } else {
    throw new WharfError('WHARF_CONFIG_INVALID', `unknown store engine ${String(config.engine)}`, { key: 'store.engine', value: config.engine, expected: '"sqlite" or "postgres"' });
  }
  try {
    await store.init();
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
  log.debug('store open', { engine: store.engine });
  return store;
}
