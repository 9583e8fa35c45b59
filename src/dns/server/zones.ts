// The zones a server answers from: loaded from the store, reloaded one at a time when the store
// says a zone changed (any process or node), swapped into the ZoneSet atomically.
//
// Invariants
//  - `set` is replaced, never mutated: a query in flight keeps the ZoneSet it started with.
//  - A zone that fails to parse or validate is logged and the previous version keeps serving.
//  - onChange fires when a zone's serial differs from the one served before (NOTIFY), and when
//    a zone appears; not for removals.
import { ZoneSet, Zone } from '../authoritative.js';
import { describeError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Store } from '../../store/store.js';
import { canonicalName } from '../wire/name.js';
import type { ResourceRecord, SoaData } from '../wire/types.js';
import { parseZone } from '../zone/parse.js';

export interface LoadedZone {
  origin: string;
  records: ResourceRecord[];
  serial: number;
  zone: Zone;
  /** The master file it was loaded from ('' when installed by replace()). */
  text: string;
}

export class ZoneRegistry {
  private loaded = new Map<string, LoadedZone>();
  set: ZoneSet = new ZoneSet([]);
  private unwatch: (() => void) | undefined;
  private chain: Promise<void> = Promise.resolve();
  /** Zones that failed to load (name -> message), for status and tests. */
  readonly errors = new Map<string, string>();

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly onChange: (z: LoadedZone) => void = () => {},
  ) {}

  /** Loads every zone and starts watching the store. */
  async start(): Promise<void> {
    this.unwatch = this.store.watchZones((name) => void this.reload(name));
    for (const row of await this.store.listZones()) this.install(row.name, row.text, false);
    this.publish();
  }

  stop(): void {
    this.unwatch?.();
    this.unwatch = undefined;
  }

  get(name: string): LoadedZone | undefined {
    return this.loaded.get(canonicalName(name));
  }

  get zones(): LoadedZone[] {
    return [...this.loaded.values()];
  }

  /** Re-reads one zone from the store (serialised: reloads apply in order). */
  reload(name: string): Promise<void> {
    const next = this.chain.then(async () => {
      try {
        const row = await this.store.getZone(name);
        if (!row) {
          if (this.loaded.delete(canonicalName(name))) this.publish();
          return;
        }
        if (this.install(row.name, row.text, true)) this.publish();
      } catch (err) {
        this.logger.error('zone reload failed', { zone: name, err: describeError(err) });
      }
    });
    this.chain = next;
    return next;
  }

  /** Serves `records` for a zone right away (after an UPDATE wrote them to the store). */
  replace(origin: string, records: ResourceRecord[]): void {
    const zone = new Zone({ origin, records });
    const k = zone.key;
    const before = this.loaded.get(k);
    const z: LoadedZone = { origin: zone.origin, records, serial: zone.soa.data.serial, zone, text: '' };
    this.loaded.set(k, z);
    this.publish();
    if (!before || before.serial !== z.serial) this.onChange(z);
  }

  private install(name: string, text: string, notify: boolean): boolean {
    try {
      const before = this.loaded.get(canonicalName(name));
      if (before && before.text === text) return false;
      const parsed = parseZone(text, { origin: name, file: `zone ${name}` });
      const zone = new Zone(parsed);
      const serial = (zone.soa.data as SoaData).serial;
      this.loaded.set(zone.key, { origin: zone.origin, records: parsed.records, serial, zone, text });
      this.errors.delete(zone.key);
      if (notify && (!before || before.serial !== serial)) this.onChange(this.loaded.get(zone.key)!);
      return true;
    } catch (err) {
      this.errors.set(canonicalName(name), describeError(err).message);
      this.logger.error('zone not loaded', { zone: name, err: describeError(err) });
      return false;
    }
  }

  private publish(): void {
    this.set = ZoneSet.fromZones([...this.loaded.values()].map((z) => z.zone));
  }
}
