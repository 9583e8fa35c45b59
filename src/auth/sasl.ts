// SASL mechanisms (RFC 4422) shared by SMTP AUTH (RFC 4954), POP3 AUTH (RFC 5034) and IMAP
// AUTHENTICATE (RFC 3501 §6.2.2). The exchange is protocol-neutral here: each protocol frames
// challenges its own way ("334 ", "+ ") and passes client responses (base64 text) in.
//   PLAIN (RFC 4616): one message "authzid NUL authcid NUL passwd".
//   LOGIN (draft-murchison-sasl-login): challenges "Username:" then "Password:".
// A client response of "*" cancels (RFC 4954 §4, RFC 5034 §4, RFC 3501 §6.2.2).
export const SASL_MECHANISMS = ['PLAIN', 'LOGIN'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export interface SaslCredentials {
  authzid: string;
  username: string;
  password: string;
}

export type SaslStep =
  | { kind: 'challenge'; challenge: string /* base64, may be "" */ }
  | { kind: 'done'; credentials: SaslCredentials }
  | { kind: 'cancelled' }
  | { kind: 'error'; message: string };

export interface SaslExchange {
  /** Feeds the next client response (base64 text; "=" for an empty initial response per RFC 4954). */
  step(response: string): SaslStep;
  /** The first step, with the initial response if the client sent one in the command. */
  start(initial?: string): SaslStep;
}

export function isSaslMechanism(name: string): name is SaslMechanism {
  return (SASL_MECHANISMS as readonly string[]).includes(name.toUpperCase());
}

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict base64 decoding: null when the text is not base64 (RFC 4954 §4: 501). */
export function decodeBase64(text: string): Buffer | null {
  const t = text.trim();
  if (t === '=') return Buffer.alloc(0);
  if (!B64.test(t)) return null;
  return Buffer.from(t, 'base64');
}

function utf8(buf: Buffer): string | null {
  const s = buf.toString('utf8');
  return Buffer.from(s, 'utf8').equals(buf) ? s : null;
}

function plain(): SaslExchange {
  const finish = (response: string): SaslStep => {
    if (response === '*') return { kind: 'cancelled' };
    const buf = decodeBase64(response);
    if (!buf) return { kind: 'error', message: 'invalid base64' };
    const text = utf8(buf);
    const parts = text?.split('\0');
    if (!parts || parts.length !== 3 || !parts[1] || parts[2] === undefined) return { kind: 'error', message: 'malformed PLAIN message' };
    return { kind: 'done', credentials: { authzid: parts[0]!, username: parts[1], password: parts[2] } };
  };
  return {
    start: (initial) => (initial === undefined ? { kind: 'challenge', challenge: '' } : finish(initial)),
    step: finish,
  };
}

function login(): SaslExchange {
  let username: string | null = null;
  const user = Buffer.from('Username:').toString('base64');
  const pass = Buffer.from('Password:').toString('base64');
  const take = (response: string): SaslStep => {
    if (response === '*') return { kind: 'cancelled' };
    const buf = decodeBase64(response);
    const text = buf && utf8(buf);
    if (text === null || text === undefined) return { kind: 'error', message: 'invalid base64' };
    if (username === null) {
      if (!text) return { kind: 'error', message: 'empty user name' };
      username = text;
      return { kind: 'challenge', challenge: pass };
    }
    return { kind: 'done', credentials: { authzid: '', username, password: text } };
  };
  return {
    start: (initial) => (initial === undefined ? { kind: 'challenge', challenge: user } : take(initial)),
    step: take,
  };
}

export function saslExchange(mechanism: SaslMechanism): SaslExchange {
  return mechanism === 'PLAIN' ? plain() : login();
}
