// alice-to-bob: the slides' mail scenario end to end.
//  1. Alice's user agent (at alice.crepes.fr) submits to mail.crepes.fr with AUTH.
//  2. crepes.fr's queue looks up hamburger.edu's MX through the lab hierarchy (root, edu TLD,
//     dns.hamburger.edu) and relays: the session hamburger.edu records reads like the slides
//     (S: 220 hamburger.edu / C: HELO crepes.fr / … / S: 221 hamburger.edu closing connection).
//  3. Bob (at bob.hamburger.edu) retrieves it by POP3 (user bob / pass hungry / list / retr),
//     then again by IMAP; both copies must be the same bytes and carry the run's Subject.
import { randomBytes } from 'node:crypto';
import type { DnsTraceEvent, TranscriptEvent } from '../../core/events.js';
import { LineClient, ScenarioError } from '../line-client.js';
import { hostNameOf } from '../world.js';
import type { Scenario, ScenarioContext } from './types.js';
import { outcomeText } from './types.js';

function waitFor<T>(what: string, ms: number, fn: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = async (): Promise<void> => {
      try {
        const v = await fn();
        if (v !== undefined) return resolve(v);
      } catch (err) {
        return reject(err);
      }
      if (Date.now() > deadline) return reject(new ScenarioError(`${what} did not happen within ${ms} ms`));
      setTimeout(() => void tick(), 50);
    };
    void tick();
  });
}

export const aliceToBob: Scenario = {
  summary: "Alice's UA submits to crepes.fr, the queue relays by MX to hamburger.edu, Bob reads it by POP3 and IMAP",
  async run({ lab, transcript, dns }: ScenarioContext) {
    const { world } = lab;
    const crepes = lab.instances['crepes.fr']!;
    const hamburger = lab.instances['hamburger.edu']!;
    const { alice, bob } = world.accounts;
    const mailCrepes = world.hosts['mail.crepes.fr']!;
    const mailHamburger = world.hosts['mail.hamburger.edu']!;
    const tag = randomBytes(3).toString('hex');
    const subject = `Do you like ketchup? [lab ${tag}]`;
    await lab.coldCache('crepes.fr');

    // Watch the relay: the receiving server's transcript (S: is hamburger.edu), the sender's DNS.
    // The relay session is the one from mail.crepes.fr that says HELO crepes.fr.
    const relayAll: TranscriptEvent[] = [];
    const relaySession = (): string | undefined => relayAll.find((e) => e.dir === 'C' && e.client.startsWith(`${mailCrepes}:`) && /^(HELO|EHLO) crepes\.fr$/i.test(e.text))?.session;
    const relayEvents = (): TranscriptEvent[] => relayAll.filter((e) => e.session === relaySession());
    const traces: DnsTraceEvent[] = [];
    const offs = [
      hamburger.bus.on('transcript', (ev) => {
        if (ev.service === 'smtp') relayAll.push(ev);
      }),
      crepes.bus.on('dns-trace', (ev) => traces.push(ev)),
    ];
    try {
      // 1. Submission (RFC 6409) with AUTH PLAIN (RFC 4954).
      transcript.push(`== Alice's user agent (alice.crepes.fr ${world.hosts['alice.crepes.fr']}) submits to mail.crepes.fr ${mailCrepes}:${world.ports.submission}`);
      const ua = await LineClient.connect({ host: mailCrepes, port: world.ports.submission, localAddress: world.hosts['alice.crepes.fr']!, transcript });
      try {
        await ua.smtpReply(220, 'greeting');
        await ua.send('EHLO alice.crepes.fr');
        await ua.smtpReply(250, 'EHLO');
        await ua.send(`AUTH PLAIN ${Buffer.from(`\0${alice.login}\0${alice.password}`).toString('base64')}`, 'AUTH PLAIN ****');
        await ua.smtpReply(235, 'AUTH');
        await ua.send(`MAIL FROM:<${alice.address}>`);
        await ua.smtpReply(250, 'MAIL FROM');
        await ua.send(`RCPT TO:<${bob.address}>`);
        await ua.smtpReply(250, 'RCPT TO');
        await ua.send('DATA');
        await ua.smtpReply(354, 'DATA');
        for (const l of [`From: Alice <${alice.address}>`, `To: Bob <${bob.address}>`, `Subject: ${subject}`, '', 'Do you like ketchup?', 'How about pickles?', '.']) await ua.send(l);
        await ua.smtpReply(250, 'end of data');
        await ua.send('QUIT');
        await ua.smtpReply(221, 'QUIT');
      } finally {
        ua.close();
      }

      // 2. The queue relays; wait for the end of the relay session (its 250 means stored: durability before acknowledgement).
      const sessionDone = (): boolean => relayEvents().some((e) => e.dir === 'S' && e.text.startsWith('221'));
      await waitFor('relay to hamburger.edu', 20_000, async () => {
        if (sessionDone()) return true;
        const q = await crepes.store.listQueue();
        const err = q.flatMap((m) => m.jobs.map((j) => j.lastError)).find((e) => e);
        if (err && q.some((m) => m.jobs.some((j) => j.attempts >= 2))) throw new ScenarioError(`crepes.fr's queue could not relay: ${err}`);
        return undefined;
      });
      lab.usedCache('crepes.fr');
      transcript.push('');
      transcript.push('== crepes.fr looks up the MX of hamburger.edu through the hierarchy (its resolver starts at the lab root)');
      let n = 0;
      for (const t of traces) {
        const to = t.serverName?.replace(/\.$/, '') ?? hostNameOf(world, t.server) ?? t.server;
        const text = `${t.qname} ${t.qtype}? → ${outcomeText(t)}`;
        dns.push({ step: ++n, from: 'crepes.fr resolver', to, text });
        transcript.push(`  ${n}. crepes.fr resolver → ${to}: ${text}`);
      }
      const askedMx = (host: string, outcome: string): boolean => traces.some((t) => t.qtype === 'MX' && t.server.startsWith(`${world.hosts[host]}:`) && t.outcome === outcome);
      if (!askedMx('a.root-servers.net', 'referral') || !askedMx('a.edu-servers.net', 'referral') || !askedMx('dns.hamburger.edu', 'answer')) {
        throw new ScenarioError('the MX lookup did not go root → edu TLD → dns.hamburger.edu (see the DNS steps)');
      }
      transcript.push('');
      const relay = relayEvents();
      transcript.push(`== crepes.fr relays to mail.hamburger.edu ${mailHamburger}:${world.ports.smtp} (as recorded by hamburger.edu)`);
      for (const e of relay) transcript.push(e.dir === '*' ? `   ${e.text.startsWith('(') ? e.text : `(${e.text})`}` : `${e.dir}: ${e.text}`);
      const first = relay.find((e) => e.dir === 'S');
      const helo = relay.find((e) => e.dir === 'C');
      if (!first?.text.startsWith('220 hamburger.edu')) throw new ScenarioError(`the relay greeting was "${first?.text}", not "220 hamburger.edu"`);
      if (helo?.text !== 'HELO crepes.fr') throw new ScenarioError(`the relay opened with "${helo?.text}", not "HELO crepes.fr"`);
      if (!relay.some((e) => e.dir === 'S' && e.text === '221 hamburger.edu closing connection')) throw new ScenarioError('the relay session did not end with "221 hamburger.edu closing connection"');

      // 3. Bob reads his mail: POP3 (RFC 1939) as in the slides, then IMAP (RFC 9051).
      transcript.push('');
      transcript.push(`== Bob (bob.hamburger.edu ${world.hosts['bob.hamburger.edu']}) reads his mail by POP3 at mail.hamburger.edu ${mailHamburger}:${world.ports.pop3}`);
      const pop = await LineClient.connect({ host: mailHamburger, port: world.ports.pop3, localAddress: world.hosts['bob.hamburger.edu']!, transcript });
      let popMessage: string;
      try {
        await pop.expect('+OK', 'POP3 greeting');
        await pop.send(`user ${bob.login}`);
        await pop.expect('+OK', 'user');
        await pop.send(`pass ${bob.password}`, 'pass ****');
        await pop.expect('+OK', 'pass');
        await pop.send('list');
        await pop.expect('+OK', 'list');
        const list = await pop.readDotted();
        if (list.length === 0) throw new ScenarioError("Bob's maildrop is empty");
        const last = Number(list[list.length - 1]!.split(' ')[0]);
        await pop.send(`retr ${last}`);
        await pop.expect('+OK', 'retr');
        popMessage = (await pop.readDotted()).join('\r\n') + '\r\n';
        await pop.send('quit');
        await pop.expect('+OK', 'quit');
      } finally {
        pop.close();
      }
      if (!popMessage.includes(`Subject: ${subject}`)) throw new ScenarioError(`the newest message in Bob's maildrop is not the one Alice sent (Subject "${subject}")`);

      transcript.push('');
      transcript.push(`== Bob reads it again by IMAP at mail.hamburger.edu ${mailHamburger}:${world.ports.imap}`);
      const imap = await LineClient.connect({ host: mailHamburger, port: world.ports.imap, localAddress: world.hosts['bob.hamburger.edu']!, transcript });
      try {
        await imap.expect('* OK', 'IMAP greeting');
        await imap.send(`a1 LOGIN ${bob.login} ${bob.password}`, `a1 LOGIN ${bob.login} ****`);
        await untilTagged(imap, 'a1');
        await imap.send('a2 SELECT INBOX');
        const sel = await untilTagged(imap, 'a2');
        const exists = Number(/^\* (\d+) EXISTS/m.exec(sel.join('\n'))?.[1] ?? 0);
        if (!exists) throw new ScenarioError("Bob's INBOX is empty over IMAP");
        await imap.send(`a3 FETCH ${exists} BODY[]`);
        const head = await imap.readLine();
        const m = /\{(\d+)\}$/.exec(head);
        if (!m) throw new ScenarioError(`FETCH BODY[] did not return a literal: "${head}"`);
        const body = (await imap.readBytes(Number(m[1]))).toString('utf8');
        imap.note(`${m[1]} octets of message`);
        await untilTagged(imap, 'a3');
        await imap.send('a4 LOGOUT');
        await untilTagged(imap, 'a4');
        if (body !== popMessage) throw new ScenarioError('the message read by IMAP is not the same bytes as the one read by POP3');
        transcript.push(`   (POP3 and IMAP returned the same ${Buffer.byteLength(body)} octets, Subject "${subject}")`);
      } finally {
        imap.close();
      }
    } finally {
      for (const off of offs) off();
    }
  },
};

/** Lines up to the tagged completion of `tag`, which must be OK. */
async function untilTagged(c: LineClient, tag: string): Promise<string[]> {
  const lines: string[] = [];
  for (;;) {
    const l = await c.readLine();
    lines.push(l);
    if (l.startsWith(`${tag} `)) {
      if (!l.startsWith(`${tag} OK`)) throw new ScenarioError(`IMAP ${tag}: ${l}`);
      return lines;
    }
  }
}
