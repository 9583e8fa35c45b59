// Message flag lists: pure helpers. Flags keep the case they were first given in ("\Seen",
// "$Forwarded") and compare case-insensitively (RFC 3501 §2.3.2: flag names are
// case-insensitive). A list never holds two flags that differ only in case.

/** Drops empty names and case-insensitive duplicates, keeping the first spelling and order. */
export function normaliseFlags(flags: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const f of flags) {
    if (typeof f !== 'string' || f === '') continue;
    const k = f.toLowerCase();
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(f);
  }
  return out;
}

export function hasFlag(flags: readonly string[], flag: string): boolean {
  const k = flag.toLowerCase();
  return flags.some((f) => f.toLowerCase() === k);
}

/**
 * Applies a STORE operation. Returns the new list, or null when the set of flags does not change
 * (RFC 7162 §3.1: setting a flag already set SHOULD NOT change the mod-sequence).
 */
export function applyFlags(current: readonly string[], op: 'add' | 'remove' | 'set', flags: readonly string[]): string[] | null {
  const given = normaliseFlags(flags);
  let next: string[];
  if (op === 'add') {
    next = [...current, ...given.filter((f) => !hasFlag(current, f))];
  } else if (op === 'remove') {
    next = current.filter((f) => !hasFlag(given, f));
  } else {
    next = given;
  }
  return sameFlagSet(current, next) ? null : next;
}

export function sameFlagSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const ka = new Set(a.map((f) => f.toLowerCase()));
  return b.every((f) => ka.has(f.toLowerCase())) && ka.size === a.length;
}
