// The slides' world, as data: which Wharf instances the lab runs, on which loopback address,
// with which zones, mail domains and accounts. Pure: index.ts turns it into running instances.
//
// Addressing: every host lives at <net>.<site>.<host> (net = "127.53" by default), so one lab
// never touches an address outside 127.0.0.0/8 and two labs with different nets never meet.
// All DNS servers listen on the same port (the resolver asks one upstream port everywhere);
// every SMTP listener shares one port too (the queue relays to one port on every MX).
//
//   <net>.0.1   a.root-servers.net   root DNS server (zone ".")
//   <net>.1.1   a.edu-servers.net    TLD server for edu.
//   <net>.1.2   d.nic.fr             TLD server for fr.
//   <net>.1.3   a.gtld-servers.net   TLD server for com.
//   <net>.2.1   hamburger.edu        dns. and mail.hamburger.edu (Bob's mail server, local DNS)
//   <net>.2.10  bob.hamburger.edu    Bob's host (his user agent connects from here)
//   <net>.3.1   crepes.fr            dns. and mail.crepes.fr (Alice's mail server, local DNS)
//   <net>.3.10  alice.crepes.fr      Alice's host
//   <net>.4.1   dns.cs.umass.edu     authoritative for umass.edu
//   <net>.4.10  gaia.cs.umass.edu    the host the slides look up
//   <net>.4.21  ftp.cs.umass.edu     FTP server
//   <net>.5.1   dns.poly.edu         poly.edu's local DNS server (recursive for its hosts)
//   <net>.5.2   cache.poly.edu       the institutional web cache (forward proxy)
//   <net>.5.10  cis.poly.edu         the host asking in the DNS pictures
//   <net>.6.1   dns.ibm.com          authoritative for ibm.com
//   <net>.6.80  servereast.backup2.ibm.com   origin web server (www.ibm.com is a CNAME to it)
//   <net>.9.1   console.lab          the web console

/** Ports every instance of the lab uses (each on its own address). */
export interface LabPorts {
  dns: number;
  smtp: number;
  submission: number;
  pop3: number;
  imap: number;
  ftp: number;
  proxy: number;
  http: number;
  console: number;
}

export const DEFAULT_NET = '127.53';

export const DEFAULT_PORTS: LabPorts = { dns: 2053, smtp: 2525, submission: 2587, pop3: 2110, imap: 2143, ftp: 2121, proxy: 3128, http: 8080, console: 8025 };

/** TTL of every lab record: short, so a scenario played again shows the whole path again. */
export const LAB_TTL = 3;

/** max-age of the origin's pages: long enough for a hit under load, short enough to wait out. */
export const WEB_MAX_AGE = 4;

export interface InstanceSpec {
  /** The console's name for it and the key in Lab.instances. */
  name: string;
  /** config hostname (greetings, HELO). */
  hostname: string;
  /** The address every listener of the instance binds. */
  address: string;
  /** Listener sections enabled ("dns", "smtp", …). */
  services: string[];
  /** Extra config by dotted key. */
  set: Record<string, unknown>;
  /** Zones this instance is authoritative for: origin -> master file text. */
  zones: Record<string, string>;
  /** Mail/FTP domains to create. */
  domains: string[];
  users: { address: string; password: string; role: string }[];
  /** What it is, for describe(). */
  role: string;
}

export interface World {
  net: string;
  ports: LabPorts;
  instances: InstanceSpec[];
  /** Host addresses by name (servers and client hosts): lets traces name the servers. */
  hosts: Record<string, string>;
  /** The slides' accounts. */
  accounts: { alice: { address: string; login: string; password: string }; bob: { address: string; login: string; password: string }; ftp: { login: string; address: string; password: string } };
}

/** Checks "127.N" or "127.N.M"-free two-octet nets: only 127.x bases are accepted. */
export function parseNet(net: string): string {
  const m = /^127\.(\d{1,3})$/.exec(net.trim());
  if (!m || Number(m[1]) > 255) throw new Error(`--net must look like 127.N (0-255), the lab only uses loopback addresses: got "${net}"`);
  return `127.${Number(m[1])}`;
}

function soa(origin: string, mname: string): string {
  const rname = `hostmaster.${origin === '.' ? 'lab.' : origin}`;
  return `${origin} IN SOA ${mname} ${rname} 1 3600 600 86400 ${LAB_TTL}`;
}

function zone(origin: string, mname: string, lines: string[]): string {
  return [`$TTL ${LAB_TTL}`, soa(origin, mname), ...lines, ''].join('\n');
}

export function buildWorld(netIn: string = DEFAULT_NET, ports: LabPorts = DEFAULT_PORTS): World {
  const net = parseNet(netIn);
  const a = (site: number, host: number): string => `${net}.${site}.${host}`;
  const hosts: Record<string, string> = {
    'a.root-servers.net': a(0, 1),
    'a.edu-servers.net': a(1, 1),
    'd.nic.fr': a(1, 2),
    'a.gtld-servers.net': a(1, 3),
    'dns.hamburger.edu': a(2, 1),
    'mail.hamburger.edu': a(2, 1),
    'bob.hamburger.edu': a(2, 10),
    'dns.crepes.fr': a(3, 1),
    'mail.crepes.fr': a(3, 1),
    'alice.crepes.fr': a(3, 10),
    'dns.cs.umass.edu': a(4, 1),
    'gaia.cs.umass.edu': a(4, 10),
    'ftp.cs.umass.edu': a(4, 21),
    'dns.poly.edu': a(5, 1),
    'cache.poly.edu': a(5, 2),
    'cis.poly.edu': a(5, 10),
    'dns.ibm.com': a(6, 1),
    'servereast.backup2.ibm.com': a(6, 80),
    'console.lab': a(9, 1),
  };
  const h = (name: string): string => hosts[name]!;
  const rootHints = [h('a.root-servers.net')];

  // Every instance: its own address, lab DNS as the root, fast hashing, throwaway durability.
  const common = (hostname: string): Record<string, unknown> => ({
    hostname,
    'auth.scrypt_cost': 10,
    'dns.port': ports.dns,
    'dns.resolver.root_hints': rootHints,
    'dns.resolver.upstream_port': ports.dns,
    'dns.resolver.timeout': 1000,
    'dns.rrl.enabled': false,
    'dns.recursion.enabled': false,
    'smtp.port': ports.smtp,
    'submission.port': ports.submission,
    'pop3.port': ports.pop3,
    'imap.port': ports.imap,
    'ftp.port': ports.ftp,
    'proxy.port': ports.proxy,
    'queue.relay_port': ports.smtp,
    'queue.retry_base': 1000,
    'queue.retry_max': 5000,
    'queue.connect_timeout': 3000,
    // The slides' relay session: "C: HELO crepes.fr", no extensions, no TLS.
    'queue.greeting': 'HELO',
    // "S: 220 hamburger.edu", the hostname alone.
    'smtp.banner': '',
    'store.fsync': false,
  });

  const rootZone = zone('.', 'a.root-servers.net.', [
    '. IN NS a.root-servers.net.',
    `a.root-servers.net. IN A ${h('a.root-servers.net')}`,
    'edu. IN NS a.edu-servers.net.',
    `a.edu-servers.net. IN A ${h('a.edu-servers.net')}`,
    'fr. IN NS d.nic.fr.',
    `d.nic.fr. IN A ${h('d.nic.fr')}`,
    'com. IN NS a.gtld-servers.net.',
    `a.gtld-servers.net. IN A ${h('a.gtld-servers.net')}`,
  ]);
  const eduZone = zone('edu.', 'a.edu-servers.net.', [
    'edu. IN NS a.edu-servers.net.',
    'hamburger.edu. IN NS dns.hamburger.edu.',
    `dns.hamburger.edu. IN A ${h('dns.hamburger.edu')}`,
    // As in the slides: the TLD server refers straight to dns.cs.umass.edu.
    'umass.edu. IN NS dns.cs.umass.edu.',
    `dns.cs.umass.edu. IN A ${h('dns.cs.umass.edu')}`,
    'poly.edu. IN NS dns.poly.edu.',
    `dns.poly.edu. IN A ${h('dns.poly.edu')}`,
  ]);
  const frZone = zone('fr.', 'd.nic.fr.', ['fr. IN NS d.nic.fr.', `d.nic.fr. IN A ${h('d.nic.fr')}`, 'crepes.fr. IN NS dns.crepes.fr.', `dns.crepes.fr. IN A ${h('dns.crepes.fr')}`]);
  const comZone = zone('com.', 'a.gtld-servers.net.', ['com. IN NS a.gtld-servers.net.', 'ibm.com. IN NS dns.ibm.com.', `dns.ibm.com. IN A ${h('dns.ibm.com')}`]);
  const mailZone = (domain: string, user: string): string =>
    zone(`${domain}.`, `dns.${domain}.`, [
      `${domain}. IN NS dns.${domain}.`,
      `${domain}. IN MX 10 mail.${domain}.`,
      `${domain}. IN A ${h(`mail.${domain}`)}`,
      `dns.${domain}. IN A ${h(`dns.${domain}`)}`,
      `mail.${domain}. IN A ${h(`mail.${domain}`)}`,
      `${user}.${domain}. IN A ${h(`${user}.${domain}`)}`,
    ]);
  const umassZone = zone('umass.edu.', 'dns.cs.umass.edu.', [
    'umass.edu. IN NS dns.cs.umass.edu.',
    `dns.cs.umass.edu. IN A ${h('dns.cs.umass.edu')}`,
    `cs.umass.edu. IN A ${h('gaia.cs.umass.edu')}`,
    `gaia.cs.umass.edu. IN A ${h('gaia.cs.umass.edu')}`,
    `ftp.cs.umass.edu. IN A ${h('ftp.cs.umass.edu')}`,
  ]);
  const polyZone = zone('poly.edu.', 'dns.poly.edu.', [
    'poly.edu. IN NS dns.poly.edu.',
    `dns.poly.edu. IN A ${h('dns.poly.edu')}`,
    `cis.poly.edu. IN A ${h('cis.poly.edu')}`,
    `cache.poly.edu. IN A ${h('cache.poly.edu')}`,
  ]);
  const ibmZone = zone('ibm.com.', 'dns.ibm.com.', [
    'ibm.com. IN NS dns.ibm.com.',
    `dns.ibm.com. IN A ${h('dns.ibm.com')}`,
    // The slides' alias: www.ibm.com is really servereast.backup2.ibm.com.
    'www.ibm.com. IN CNAME servereast.backup2.ibm.com.',
    `servereast.backup2.ibm.com. IN A ${h('servereast.backup2.ibm.com')}`,
  ]);

  const accounts = {
    alice: { address: 'alice@crepes.fr', login: 'alice', password: 'ketchup' },
    bob: { address: 'bob@hamburger.edu', login: 'bob', password: 'hungry' },
    ftp: { address: 'alice@cs.umass.edu', login: 'alice', password: 'pickles' },
  };
  const dnsOnly = (name: string, hostname: string, origin: string, text: string, role: string, extra: Record<string, unknown> = {}): InstanceSpec => ({
    name,
    hostname,
    address: h(hostname),
    services: ['dns'],
    set: { ...common(hostname), ...extra },
    zones: { [origin]: text },
    domains: [],
    users: [],
    role,
  });
  const mail = (domain: string, user: 'alice' | 'bob', role: string): InstanceSpec => ({
    name: domain,
    hostname: domain,
    address: h(`mail.${domain}`),
    services: ['dns', 'smtp', 'submission', 'pop3', 'imap'],
    // Its DNS server is authoritative for the domain and the site's local (recursive) resolver.
    // The queue relays from the mail server's own address, so the peer sees mail.<domain>.
    set: { ...common(domain), 'auth.default_domain': domain, 'dns.recursion.enabled': true, 'queue.source_address': h(`mail.${domain}`) },
    zones: { [`${domain}.`]: mailZone(domain, user) },
    domains: [domain],
    users: [{ address: accounts[user].address, password: accounts[user].password, role: `${user} (SMTP submission, POP3, IMAP)` }],
    role,
  });
  const instances: InstanceSpec[] = [
    dnsOnly('root', 'a.root-servers.net', '.', rootZone, 'root DNS server'),
    dnsOnly('edu', 'a.edu-servers.net', 'edu.', eduZone, 'TLD DNS server for edu.'),
    dnsOnly('fr', 'd.nic.fr', 'fr.', frZone, 'TLD DNS server for fr.'),
    dnsOnly('com', 'a.gtld-servers.net', 'com.', comZone, 'TLD DNS server for com.'),
    mail('hamburger.edu', 'bob', "Bob's mail server (SMTP, submission, POP3, IMAP) and hamburger.edu's DNS"),
    mail('crepes.fr', 'alice', "Alice's mail server (SMTP, submission, POP3, IMAP) and crepes.fr's DNS"),
    dnsOnly('umass.edu', 'dns.cs.umass.edu', 'umass.edu.', umassZone, 'authoritative DNS server for umass.edu (cs.umass.edu, gaia.cs.umass.edu)'),
    dnsOnly('poly.edu', 'dns.poly.edu', 'poly.edu.', polyZone, "poly.edu's local DNS server (recursive for its hosts)", { 'dns.recursion.enabled': true }),
    dnsOnly('ibm.com', 'dns.ibm.com', 'ibm.com.', ibmZone, 'authoritative DNS server for ibm.com (www.ibm.com CNAME servereast.backup2.ibm.com)'),
    {
      name: 'ftp.cs.umass.edu',
      hostname: 'ftp.cs.umass.edu',
      address: h('ftp.cs.umass.edu'),
      services: ['ftp'],
      set: { ...common('ftp.cs.umass.edu'), 'auth.default_domain': 'cs.umass.edu', 'queue.enabled': false },
      zones: {},
      domains: ['cs.umass.edu'],
      users: [{ address: accounts.ftp.address, password: accounts.ftp.password, role: 'alice (FTP)' }],
      role: 'FTP server',
    },
    {
      name: 'cache.poly.edu',
      hostname: 'cache.poly.edu',
      address: h('cache.poly.edu'),
      services: ['proxy'],
      // A forward proxy: origin names resolve through the lab DNS (its resolver starts at the lab root).
      set: { ...common('cache.poly.edu'), 'queue.enabled': false },
      zones: {},
      domains: [],
      users: [],
      role: 'caching HTTP proxy (forward; origins resolved through the lab DNS)',
    },
  ];
  return { net, ports, instances, hosts, accounts };
}

/** The lab name of an address ("a.root-servers.net"), for traces. */
export function hostNameOf(world: World, address: string): string | undefined {
  const host = address.replace(/:\d+$/, '');
  // Prefer server names (dns.*, a.root-servers.net) over the mail.* alias of the same address.
  const names = Object.entries(world.hosts).filter(([, a]) => a === host).map(([n]) => n);
  return names.find((n) => n.startsWith('dns.')) ?? names[0];
}
