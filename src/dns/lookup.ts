// What the rest of Wharf asks of DNS: mail routing (MX, then addresses) and host addresses for
// the proxy. The instance's resolver (src/dns/resolver/) implements it; tests inject fakes.
//
// Errors are WharfErrors with a stable code so callers can tell a permanent answer from a
// temporary failure (RFC 5321 §5.1: a temporary DNS failure defers, it never bounces):
//   WHARF_DNS_NXDOMAIN  the name does not exist (permanent)
//   WHARF_DNS_TEMP      timeout, SERVFAIL, no server answered (temporary)

export interface MxRecord {
  preference: number;
  /** Host name without the trailing dot; "" for a null MX (RFC 7505: "." means no mail). */
  exchange: string;
}

export interface DnsLookup {
  /**
   * MX records of a domain, sorted by preference. [] when the domain exists but has none
   * (the caller falls back to the implicit MX, RFC 5321 §5.1).
   */
  mx(domain: string): Promise<MxRecord[]>;
  /** IPv4 then IPv6 addresses of a host (A and AAAA, CNAMEs followed). [] when it has none. */
  addresses(host: string): Promise<string[]>;
}

export const DnsLookupErrors = {
  nxdomain: 'WHARF_DNS_NXDOMAIN',
  temp: 'WHARF_DNS_TEMP',
} as const;
