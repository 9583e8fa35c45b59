// The configuration schema: every key Wharf reads, with its type, default and a one-line doc.
// `wharf config docs` prints this; `wharf config check` prints the effective values.
// Defaults are the embedded default: loopback, unprivileged ports, SQLite under the data
// directory. A production config sets the standard ports (25, 587, 465, 110, 995, 143, 993,
// 21, 53) and real addresses.
//
// Add a key here, with its doc, before reading it anywhere; the type of `Config` follows.
import { hostname as osHostname } from 'node:os';
import { bool, cidrs, duration, host, hostPorts, int, list, oneOf, port, portRange, size, str } from './fields.js';
import type { Field } from './fields.js';

const loopback = ['127.0.0.0/8', '::1/128'];

/** The real root servers (a.root-servers.net … m.root-servers.net), IPv4. */
export const ROOT_SERVERS = [
  '198.41.0.4', '170.247.170.2', '192.33.4.12', '199.7.91.13', '192.203.230.10', '192.5.5.241', '192.112.36.4',
  '198.97.190.53', '192.36.148.17', '192.58.128.30', '193.0.14.129', '199.7.83.42', '202.12.27.33',
];

/** The common keys of a TCP listener. */
function listener(enabled: boolean, defaultPort: number, what: string, extra: { tls?: boolean } = {}) {
  return {
    enabled: bool(enabled, `Run the ${what} listener`),
    host: host('127.0.0.1', `Address the ${what} listener binds ("::" or "0.0.0.0" for all)`),
    port: port(defaultPort, `Port of the ${what} listener${extra.tls ? ' (implicit TLS)' : ''}`),
  };
}

function limits(maxConnections: number, maxPerIp: number, idle: number, what: string) {
  return {
    max_connections: int(maxConnections, `Most simultaneous ${what} connections in total`, { min: 1 }),
    max_per_ip: int(maxPerIp, `Most simultaneous ${what} connections from one client address`, { min: 1 }),
    idle_timeout: duration(idle, `Close a ${what} connection idle this long`),
  };
}

export const schema = {
  hostname: str(() => osHostname().toLowerCase(), 'The name this server uses for itself: greetings, Received headers, HELO, the TLS certificate', { allowEmpty: false }),

  log: {
    level: oneOf(['debug', 'info', 'warn', 'error'] as const, 'info', 'Least severe log level written'),
    file: str('', 'Append logs to this file ("" = standard error)'),
    transcripts: bool(false, 'Also write every S:/C: transcript line to the log'),
  },

  store: {
    engine: oneOf(['sqlite', 'postgres'] as const, 'sqlite', 'Database engine: "sqlite" (embedded, one node) or "postgres" (several nodes share state)'),
    path: str('', 'SQLite database file ("" = <data>/wharf.db)'),
    url: str('postgres://127.0.0.1:5432/test', 'PostgreSQL connection URL (store.engine = "postgres")'),
    schema: str('public', 'PostgreSQL schema holding Wharf\'s tables', { allowEmpty: false }),
    pool_size: int(10, 'PostgreSQL connections per node', { min: 1, max: 1000 }),
    blobs: oneOf(['auto', 'fs', 'db'] as const, 'auto', 'Where message bodies live: "fs" (<data>/blobs), "db" (the database), "auto" (fs for SQLite, db for PostgreSQL)'),
    fsync: bool(true, 'Flush to disk before acknowledging data (turn off only for throwaway test instances)'),
  },

  tls: {
    cert: str('', 'PEM certificate chain file ("" = a self-signed certificate generated under <data>/tls)'),
    key: str('', 'PEM private key file for tls.cert'),
  },

  auth: {
    allow_insecure: bool(false, 'Allow cleartext passwords on non-loopback listeners without TLS'),
    default_domain: str('', 'Domain appended to a login name without "@" ("" = logins must be full addresses)'),
    scrypt_cost: int(15, 'scrypt cost as log2(N) for new password hashes', { min: 10, max: 20 }),
    throttle: {
      free_attempts: int(3, 'Failed logins per client address or account before delays start', { min: 0 }),
      base_delay: duration(1000, 'First delay after the free attempts; it doubles with each further failure'),
      max_delay: duration(30_000, 'Longest delay before answering a failed login'),
      window: duration(900_000, 'Failures older than this are forgotten'),
    },
  },

  smtp: {
    ...listener(true, 2525, 'SMTP (MX, receives mail for local domains)'),
    ...limits(200, 20, 300_000, 'SMTP'),
    workers: int(1, 'Processes serving the SMTP MX, submission and submissions listeners (2 uses both cores); limits apply per process, the queue runner stays in the first', { min: 1, max: 64 }),
    max_message_size: size(25 * 1024 * 1024, 'Largest message accepted (SIZE), in bytes'),
    max_recipients: int(100, 'Most recipients in one transaction (more get 452)', { min: 1 }),
    max_line: int(4096, 'Longest command line accepted, in octets (RFC 5321 §4.5.3.1.4 asks for at least 512)', { min: 512 }),
    require_tls: bool(false, 'Refuse MAIL on the MX listener until STARTTLS'),
    banner: str('ESMTP Wharf', 'Text after the hostname in the 220 greeting ("" = the hostname alone, as the textbook shows it)'),
  },
  submission: {
    ...listener(true, 2587, 'submission (mail from users, AUTH required)'),
    send_as_any: bool(false, 'Let an authenticated user send with any sender address, not only their own'),
  },
  submissions: listener(false, 2465, 'submission over implicit TLS', { tls: true }),

  queue: {
    enabled: bool(true, 'Run the outgoing queue (relay to remote domains by MX)'),
    workers: int(8, 'Deliveries in flight at once on this node', { min: 1, max: 1000 }),
    max_age: duration(5 * 86_400_000, 'Give up and bounce a message not delivered for this long (RFC 5321 §4.5.4.1)'),
    retry_base: duration(60_000, 'First retry delay after a temporary failure; it doubles up to retry_max'),
    retry_max: duration(4 * 3_600_000, 'Longest delay between two delivery attempts'),
    relay_port: port(25, 'Port the delivery client connects to on the MX hosts'),
    relay_host: str('', 'Send all remote mail to this smarthost "host[:port]" instead of looking up MX ("" = by MX)'),
    connect_timeout: duration(30_000, 'Timeout for connecting to a remote MX'),
    source_address: str('', 'Local address the delivery client connects from ("" = chosen by the system)'),
    greeting: oneOf(['EHLO', 'HELO'] as const, 'EHLO', 'How the delivery client opens: "EHLO" (extensions, STARTTLS, pipelining) or "HELO" (a plain RFC 821 session as the textbook shows: no TLS, no extensions)'),
    lease: duration(45_000, "How long a node holds a job it took; renewed every third of it while the delivery runs, so a crashed node's jobs are retried by another node (or after a restart) within about lease + 15 s"),
  },

  pop3: {
    ...listener(true, 2110, 'POP3'),
    ...limits(200, 20, 600_000, 'POP3'),
    workers: int(1, 'Processes serving POP3 and POP3S (2 uses both cores); limits and the login throttle apply per process', { min: 1, max: 64 }),
    apop: bool(false, 'Offer APOP (RFC 1939 §7): needs a per-user APOP secret stored beside the password hash'),
    login_delay: duration(0, 'Minimum time between two logins of one user, announced as LOGIN-DELAY (0 = none)'),
  },
  pop3s: listener(false, 2995, 'POP3 over implicit TLS', { tls: true }),

  imap: {
    ...listener(true, 2143, 'IMAP'),
    ...limits(500, 50, 1_800_000, 'IMAP'),
    workers: int(1, 'Processes serving IMAP and IMAPS (2 uses both cores); limits and the login throttle apply per process', { min: 1, max: 64 }),
    max_literal: size(64 * 1024 * 1024, 'Largest literal (APPEND size) accepted'),
    max_line: int(65536, 'Longest command line accepted, in octets, literals excluded', { min: 1024 }),
  },
  imaps: listener(false, 2993, 'IMAP over implicit TLS', { tls: true }),

  ftp: {
    ...listener(true, 2121, 'FTP control'),
    ...limits(200, 20, 300_000, 'FTP'),
    root: str('', 'Folder holding the users\' home folders ("" = <data>/ftp); a home is <root>/<address>'),
    anonymous: bool(false, 'Allow anonymous, read-only logins to ftp.anonymous_root'),
    anonymous_root: str('', 'Folder served to anonymous users ("" = <data>/ftp-public)'),
    quota: size(0, 'Most bytes a user may store (0 = no quota)'),
    passive_ports: portRange('', 'Ports for passive data connections, "50000-50100" ("" = any free port)'),
    passive_address: str('', 'Address announced in PASV replies, for servers behind NAT ("" = the control connection\'s local address)'),
    allow_foreign_data_address: bool(false, 'Allow PORT/EPRT to an address other than the client\'s (RFC 2577 bounce attacks)'),
    data_timeout: duration(30_000, 'Wait this long for a data connection before 425'),
    require_tls: bool(false, 'Refuse USER/PASS until AUTH TLS'),
  },
  ftps: listener(false, 2990, 'FTP over implicit TLS', { tls: true }),

  dns: {
    ...listener(true, 2053, 'DNS (UDP and TCP)'),
    workers: int(1, 'Processes serving DNS (2 uses both cores)', { min: 1, max: 64 }),
    zone_for_domains: bool(false, 'Create a zone (SOA, NS, MX, A) when a mail domain is added'),
    zone_address: str('127.0.0.1', 'Address put in the A records of zones created for mail domains'),
    recursion: {
      enabled: bool(true, 'Answer recursive queries for names outside our zones'),
      allow: cidrs(loopback, 'Networks that may ask recursive queries (others get REFUSED)'),
    },
    resolver: {
      root_hints: hostPorts(ROOT_SERVERS, 'Root servers to start iteration from, "address" or "address:port"'),
      upstream_port: port(53, 'Port asked on the servers the resolver is referred to'),
      cache_size: int(100_000, 'Most entries in the resolver cache (least recently used go first)', { min: 0 }),
      qname_minimisation: bool(false, 'Reveal only one more label per step to upstream servers (RFC 9156)'),
      max_outstanding: int(1000, 'Most recursive resolutions in progress at once', { min: 1 }),
      timeout: duration(1500, 'Time to wait for one upstream answer before trying another server'),
    },
    rrl: {
      enabled: bool(true, 'Response rate limiting per client prefix (blunts amplification)'),
      responses_per_second: int(200, 'Responses per second allowed to one /24 (IPv4) or /56 (IPv6)', { min: 1 }),
      window: int(15, 'Seconds of history the rate limiter keeps', { min: 1 }),
      slip: int(2, 'Every Nth dropped UDP response is sent truncated instead (0 = drop all)', { min: 0 }),
    },
    tsig: {
      keys: list([], 'TSIG keys for dynamic UPDATE and AXFR, "name:hmac-sha256:base64secret"'),
    },
    secondaries: hostPorts([], 'Secondary servers allowed to AXFR and sent NOTIFY on change, "address[:port]"'),
  },

  proxy: {
    ...listener(true, 3128, 'HTTP proxy'),
    ...limits(1000, 100, 120_000, 'HTTP proxy'),
    workers: int(1, 'Processes serving the proxy (2 uses both cores)', { min: 1, max: 64 }),
    allow: cidrs(loopback, 'Networks that may use the proxy'),
    upstream: str('', 'Reverse-proxy mode: cache in front of this one origin, "http://127.0.0.1:8080" ("" = forward proxy)'),
    connect_ports: list(['443'], 'Ports CONNECT may tunnel to', { expected: 'a port number', check: (s) => /^\d{1,5}$/.test(s) && Number(s) <= 65535 }),
    cache: {
      enabled: bool(true, 'Cache responses (RFC 9111)'),
      max_size: size(1024 ** 3, 'Disk space for cached bodies; least recently used entries are evicted'),
      max_object_size: size(64 * 1024 * 1024, 'Largest response body stored'),
      dir: str('', 'Folder for cached bodies ("" = <data>/proxy-cache)'),
    },
    timeouts: {
      header: duration(30_000, 'Close a client that has not sent its request headers in this time'),
      connect: duration(10_000, 'Give up connecting to an origin after this time (502)'),
      response: duration(60_000, 'Give up waiting for an origin\'s response after this time (504)'),
    },
    max_header_size: size(64 * 1024, 'Largest request header block (431 beyond)'),
  },

  console: {
    ...listener(true, 8025, 'web console and admin API'),
    transcript_buffer: int(5000, 'Transcript lines kept in memory for the console', { min: 0 }),
    session_ttl: duration(8 * 3_600_000, 'A console login session ends after this long without a request'),
    metrics_auth: bool(false, 'Require a console session or token for /metrics (otherwise open: counters only, no content)'),
    max_body: size(4 * 1024 * 1024, 'Largest request body the admin API accepts (413 beyond)'),
    tls: bool(false, 'Serve the console over HTTPS with the instance\'s certificate (tls.cert, or the one generated under <data>/tls); off loopback the admin API refuses logins and tokens over plain HTTP unless auth.allow_insecure'),
  },
} as const;

type Schema = typeof schema;
export type ConfigOf<S> = { -readonly [K in keyof S]: S[K] extends Field<infer T> ? T : ConfigOf<S[K]> };
/** The typed, validated configuration of one instance. */
export type Config = ConfigOf<Schema>;

export function isField(x: unknown): x is Field<unknown> {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'field';
}

/** Every key as [dotted.key, field], in schema order. */
export function schemaEntries(node: object = schema, prefix = ''): [string, Field<unknown>][] {
  const out: [string, Field<unknown>][] = [];
  for (const [k, v] of Object.entries(node)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (isField(v)) out.push([key, v]);
    else out.push(...schemaEntries(v as object, key));
  }
  return out;
}
