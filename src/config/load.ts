// Loading the configuration: one TOML file (optional), then `--set key=value` overrides, each
// checked against the schema. Anything wrong stops here with a ConfigError naming the key, the
// value given and what was expected; unknown keys are errors too (with a suggestion), because a
// misspelt key silently ignored is a server listening where nobody expects it.
import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { WharfError } from '../core/errors.js';
import { FieldError } from './fields.js';
import type { Field } from './fields.js';
import { isField, schema, schemaEntries } from './schema.js';
import type { Config } from './schema.js';

export class ConfigError extends WharfError {
  constructor(
    message: string,
    readonly key?: string,
    readonly value?: unknown,
    readonly expected?: string,
  ) {
    super('WHARF_CONFIG_INVALID', message, { key, value, expected });
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  /** A TOML file to read. */
  file?: string;
  /** TOML text (instead of a file; used by tests and the lab). */
  text?: string;
  /** `key=value` strings, applied in order after the file. */
  sets?: string[];
  /** Already-typed values by dotted key, applied last (tests, the lab). */
  overrides?: Record<string, unknown>;
}

const fields = new Map(schemaEntries());

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? Number(x) : x)) ?? String(v);
  } catch {
    return String(v);
  }
}

function suggest(key: string): string {
  let best = '';
  let bestD = Infinity;
  for (const k of fields.keys()) {
    const d = editDistance(key, k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return bestD <= Math.max(2, Math.floor(key.length / 4)) ? ` (did you mean "${best}"?)` : '';
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

function setValue(values: Map<string, unknown>, key: string, raw: unknown, text: boolean, origin: string): void {
  const f = fields.get(key);
  if (!f) throw new ConfigError(`${origin}: unknown key "${key}"${suggest(key)}`, key, raw, 'a key from `wharf config docs`');
  try {
    values.set(key, f.parse(raw, text));
  } catch (err) {
    if (err instanceof FieldError) {
      throw new ConfigError(`${origin}: invalid value for ${key}: ${show(raw)} (expected ${err.expected})`, key, raw, err.expected);
    }
    throw err;
  }
}

/** Flattens a parsed TOML document to dotted keys; tables that are not in the schema are errors. */
function flatten(obj: Record<string, unknown>, prefix: string, out: [string, unknown][]): void {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) && !fields.has(key)) {
      flatten(v as Record<string, unknown>, key, out);
    } else {
      out.push([key, v]);
    }
  }
}

/** Parses one `key=value` override. A value starting with `[` or `"` is read as TOML. */
export function parseSet(s: string): [string, unknown, boolean] {
  const eq = s.indexOf('=');
  if (eq <= 0) throw new ConfigError(`--set ${s}: expected key=value`, undefined, s, 'key=value');
  const key = s.slice(0, eq).trim();
  const rawText = s.slice(eq + 1);
  const t = rawText.trim();
  if (t.startsWith('[') || t.startsWith('"') || t.startsWith("'")) {
    try {
      return [key, (parseToml(`v = ${t}`) as { v: unknown }).v, false];
    } catch {
      throw new ConfigError(`--set ${key}: value ${t} is not valid TOML`, key, t, 'a TOML value');
    }
  }
  return [key, rawText, true];
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const values = new Map<string, unknown>();
  let text = opts.text;
  let origin = 'config';
  if (opts.file !== undefined) {
    origin = opts.file;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${opts.file}: ${(err as Error).message}`);
    }
  }
  if (text !== undefined) {
    let doc: Record<string, unknown>;
    try {
      doc = parseToml(text) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`${origin}: ${(err as Error).message.split('\n')[0]}`);
    }
    const flat: [string, unknown][] = [];
    flatten(doc, '', flat);
    for (const [k, v] of flat) setValue(values, k, v, false, origin);
  }
  for (const s of opts.sets ?? []) {
    const [k, v, isText] = parseSet(s);
    setValue(values, k, v, isText, `--set ${k}`);
  }
  for (const [k, v] of Object.entries(opts.overrides ?? {})) setValue(values, k, v, typeof v === 'string', `override ${k}`);
  return build(schema, '', values) as Config;
}

export function defaultConfig(): Config {
  return loadConfig({});
}

function defaultOf(f: Field<unknown>): unknown {
  return typeof f.default === 'function' ? (f.default as () => unknown)() : structuredClone(f.default);
}

function build(node: object, prefix: string, values: Map<string, unknown>): unknown {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    const key = prefix ? `${prefix}.${k}` : k;
    out[k] = isField(v) ? (values.has(key) ? values.get(key) : defaultOf(v)) : build(v as object, key, values);
  }
  return out;
}

/** Reads a dotted key from a config ("pop3.port"). */
export function getKey(config: Config, key: string): unknown {
  let cur: unknown = config;
  for (const part of key.split('.')) cur = (cur as Record<string, unknown> | undefined)?.[part];
  return cur;
}

/** The effective configuration as TOML, every key present. */
export function formatConfig(config: Config): string {
  const lines: string[] = [];
  const walk = (node: object, prefix: string): void => {
    const own = Object.entries(node).filter(([, v]) => isField(v));
    const sub = Object.entries(node).filter(([, v]) => !isField(v));
    if (own.length > 0) {
      if (prefix) lines.push('', `[${prefix}]`);
      for (const [k, f] of own) {
        const key = prefix ? `${prefix}.${k}` : k;
        lines.push(`${k} = ${(f as Field<unknown>).format(getKey(config, key))}`);
      }
    }
    for (const [k, v] of sub) walk(v as object, prefix ? `${prefix}.${k}` : k);
  };
  walk(schema, '');
  return lines.join('\n').trimStart() + '\n';
}

/** Every key with its default, what it expects and its doc. */
export function configDocs(): string {
  const lines: string[] = [];
  for (const [key, f] of schemaEntries()) {
    const def = typeof f.default === 'function' ? '(computed)' : f.format(f.default);
    lines.push(`${key} = ${def}`, `    ${f.doc}. Expects ${f.expected}.`);
  }
  return lines.join('\n') + '\n';
}
