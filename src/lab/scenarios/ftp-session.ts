// ftp-session: an FTP session as in the slides (RFC 959): Alice logs in to ftp.cs.umass.edu
// from alice.crepes.fr, looks around (PWD, CWD), uploads a file (STOR), lists the folder (LIST)
// and downloads the file again (RETR) over passive data connections (PASV, RFC 959 §4.1.1),
// then QUIT. The file that comes back must be the bytes that went up.
import { randomBytes } from 'node:crypto';
import { LineClient, ScenarioError, connectData, readAllFrom } from '../line-client.js';
import type { Scenario, ScenarioContext } from './types.js';

/** "227 Entering Passive Mode (127,53,4,21,195,80)" -> host and port. */
function pasvAddress(line: string): { host: string; port: number } {
  const m = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(line);
  if (!m) throw new ScenarioError(`cannot read the PASV reply "${line}"`);
  return { host: `${m[1]}.${m[2]}.${m[3]}.${m[4]}`, port: Number(m[5]) * 256 + Number(m[6]) };
}

/** An FTP reply (multi-line included, RFC 959 §4.2) whose code must be `code` (or one of them). */
async function reply(c: LineClient, code: number | number[], context: string): Promise<string> {
  const codes = Array.isArray(code) ? code : [code];
  let line = await c.readLine();
  const first = line.slice(0, 3);
  if (line[3] === '-') while (!(line.startsWith(first) && line[3] === ' ')) line = await c.readLine();
  if (!codes.includes(Number(first))) throw new ScenarioError(`${context}: expected ${codes.join(' or ')}, the server said "${line}"`);
  return line;
}

export const ftpSession: Scenario = {
  summary: 'Alice logs in to ftp.cs.umass.edu: PWD, CWD, STOR, LIST, RETR, QUIT over passive data connections',
  async run({ lab, transcript }: ScenarioContext) {
    const { world } = lab;
    const server = world.hosts['ftp.cs.umass.edu']!;
    const from = world.hosts['alice.crepes.fr']!;
    const { ftp } = world.accounts;
    const name = `notes-${randomBytes(3).toString('hex')}.txt`;
    const content = Buffer.from(`Notes from the lab, ${new Date().toISOString()}\r\nDo you like ketchup?\r\nHow about pickles?\r\n${randomBytes(512).toString('base64')}\r\n`);
    transcript.push(`== alice.crepes.fr (${from}) opens an FTP control connection to ftp.cs.umass.edu ${server}:${world.ports.ftp}`);
    const c = await LineClient.connect({ host: server, port: world.ports.ftp, localAddress: from, transcript });
    const passive = async (): Promise<{ host: string; port: number }> => {
      await c.send('PASV');
      return pasvAddress(await reply(c, 227, 'PASV'));
    };
    try {
      await reply(c, 220, 'greeting');
      await c.send(`USER ${ftp.login}`);
      await reply(c, 331, 'USER');
      await c.send(`PASS ${ftp.password}`, 'PASS ****');
      await reply(c, 230, 'PASS');
      await c.send('PWD');
      await reply(c, 257, 'PWD');
      await c.send('CWD pub');
      await reply(c, 250, 'CWD');
      await c.send('TYPE I');
      await reply(c, 200, 'TYPE');

      // STOR: we connect to the server's passive port and send the file; 226 after it is stored.
      let addr = await passive();
      let data = await connectData(addr.host, addr.port, from);
      await c.send(`STOR ${name}`);
      await reply(c, [125, 150], 'STOR');
      await new Promise<void>((resolve, reject) => data.end(content, () => resolve()).once('error', reject));
      c.note(`data connection ${addr.host}:${addr.port}: ${content.length} octets sent`);
      await reply(c, 226, 'STOR completion');

      addr = await passive();
      data = await connectData(addr.host, addr.port, from);
      const listing = readAllFrom(data);
      await c.send('LIST');
      await reply(c, [125, 150], 'LIST');
      const list = (await listing).toString('utf8');
      for (const l of list.split(/\r?\n/).filter(Boolean)) transcript.push(`   | ${l}`);
      await reply(c, 226, 'LIST completion');
      if (!list.includes(name)) throw new ScenarioError(`LIST does not show the uploaded ${name}`);

      addr = await passive();
      data = await connectData(addr.host, addr.port, from);
      const download = readAllFrom(data);
      await c.send(`RETR ${name}`);
      await reply(c, [125, 150], 'RETR');
      const got = await download;
      c.note(`data connection ${addr.host}:${addr.port}: ${got.length} octets received`);
      await reply(c, 226, 'RETR completion');
      if (!got.equals(content)) throw new ScenarioError(`RETR returned ${got.length} octets that differ from the ${content.length} stored`);
      c.note(`the file came back byte for byte (${got.length} octets)`);
      await c.send('QUIT');
      await reply(c, 221, 'QUIT');
    } finally {
      c.close();
    }
  },
};
