// A minimal, fast IMAP client for benchmarks: one socket, one command at a time. Responses are
// scanned as they arrive, chunk by chunk, for line ends and literals ({n} CRLF + n octets are
// skipped without being copied), so a 10,000-message FETCH costs the client a scan, not a parse.
// Only the tagged completion line and the count of untagged responses are kept.
import * as net from 'node:net';

export interface BenchReply {
  /** The tagged line, e.g. "a3 OK FETCH completed". */
  tagged: string;
  /** Untagged responses ("* ..." lines, literals included in their line). */
  untagged: number;
  /** Octets received for this command. */
  octets: number;
  /** The first few untagged lines (without literals), for checks like "* 10000 EXISTS". */
  sample: string[];
}

export class BenchImap {
  private socket!: net.Socket;
  private partial: Buffer[] = [];
  private skip = 0;
  /** The current line continues after a literal (not the start of a response). */
  private continuing = false;
  private tag = '';
  private n = 0;
  private reply: BenchReply = { tagged: '', untagged: 0, octets: 0, sample: [] };
  private done: ((r: BenchReply) => void) | null = null;
  private fail: ((e: Error) => void) | null = null;
  private greeting: ((line: string) => void) | null = null;

  static async connect(host: string, port: number): Promise<BenchImap> {
    const c = new BenchImap();
    const greeted = new Promise<string>((resolve) => (c.greeting = resolve));
    await new Promise<void>((resolve, reject) => {
      c.socket = net.connect({ host, port, noDelay: true }, resolve);
      c.socket.once('error', reject);
    });
    c.socket.on('data', (d: Buffer) => c.onData(d));
    c.socket.on('error', (e) => c.fail?.(e));
    c.socket.on('close', () => c.fail?.(new Error('connection closed')));
    const g = await greeted;
    if (!g.startsWith('* OK')) throw new Error(`greeting: ${g}`);
    return c;
  }

  private onData(d: Buffer): void {
    this.reply.octets += d.length;
    let p = 0;
    while (p < d.length) {
      if (this.skip > 0) {
        const k = Math.min(this.skip, d.length - p);
        this.skip -= k;
        p += k;
        continue;
      }
      const i = d.indexOf(10, p);
      if (i < 0) {
        this.partial.push(d.subarray(p));
        break;
      }
      this.partial.push(d.subarray(p, i + 1));
      p = i + 1;
      const line = this.partial.length === 1 ? this.partial[0]! : Buffer.concat(this.partial);
      this.partial = [];
      this.onLine(line);
    }
  }

  private onLine(line: Buffer): void {
    const tail = line.subarray(Math.max(0, line.length - 24)).toString('latin1');
    const lit = /\{(\d+)\}\r\n$/.exec(tail);
    const first = !this.continuing;
    this.continuing = !!lit;
    if (lit) this.skip = Number(lit[1]);
    if (!first) return;
    if (this.greeting) {
      const g = this.greeting;
      this.greeting = null;
      g(line.toString('latin1').trimEnd());
      return;
    }
    if (line[0] === 0x2a /* * */) {
      this.reply.untagged++;
      if (this.reply.sample.length < 16) this.reply.sample.push(line.subarray(0, Math.min(line.length, 200)).toString('latin1').trimEnd());
      return;
    }
    const text = line.toString('latin1');
    if (this.tag && text.startsWith(this.tag + ' ')) {
      const r = { ...this.reply, tagged: text.trimEnd() };
      const done = this.done;
      this.done = null;
      this.fail = null;
      this.tag = '';
      done?.(r);
    }
  }

  /** Sends one command and resolves with its reply; rejects unless the status is OK. */
  command(text: string): Promise<BenchReply> {
    const tag = `b${++this.n}`;
    this.tag = tag;
    this.reply = { tagged: '', untagged: 0, octets: 0, sample: [] };
    const p = new Promise<BenchReply>((resolve, reject) => {
      this.done = resolve;
      this.fail = reject;
    });
    this.socket.write(`${tag} ${text}\r\n`);
    return p.then((r) => {
      if (!r.tagged.startsWith(`${tag} OK`)) throw new Error(`${text.slice(0, 60)}: ${r.tagged}`);
      return r;
    });
  }

  async logout(): Promise<void> {
    this.fail = null;
    await this.command('LOGOUT').catch(() => {});
    this.socket.destroy();
  }
}
