// What the FTP sessions of one Wharf instance share (both listeners, `ftp` and `ftps`): the quota
// counters (a user may be logged in on both at once), the batched folder fsyncs, and the pool of
// download buffers. Created once per instance by the service factory; nothing here is global.
import { QuotaLedger } from './quota.js';
import { DirSync, SEND_CHUNK } from './transfer.js';

/**
 * Reusable download buffers: a RETR takes two and gives them back when it ends cleanly, so a
 * steady stream of downloads allocates nothing (no GC churn, no fresh pages to fault in). At most
 * `keep` idle buffers are held; a buffer whose transfer failed is left to the GC, never reused.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];
  constructor(
    readonly size: number,
    private readonly keep: number,
  ) {}
  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }
  give(b: Buffer): void {
    if (b.length === this.size && this.free.length < this.keep) this.free.push(b);
  }
}

export class FtpShared {
  readonly quota = new QuotaLedger();
  readonly dirSync = new DirSync();
  /** 16 idle buffers of 256 KiB at most: 4 MiB, eight downloads' worth. */
  readonly buffers = new BufferPool(SEND_CHUNK, 16);
}
