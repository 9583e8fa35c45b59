// ENVELOPE, BODY and BODYSTRUCTURE (RFC 3501 §7.4.2) from the stored MessageMeta: no parsing of
// the message at FETCH time (DESIGN.md principle 6). Header values go out as stored (raw, RFC
// 2047 words not decoded), as the RFC asks; 8-bit text goes as a literal unless UTF8=ACCEPT.
import type { BodyPart, Envelope, EnvelopeAddress } from '../mail/meta.js';
import { list, nstr, str } from './wire/compiler.js';

function addresses(a: readonly EnvelopeAddress[], utf8: boolean): string {
  if (!a.length) return 'NIL';
  // RFC 3501 §9: env-from = "(" 1*address ")" — no space between addresses.
  return `(${a.map((x) => list([nstr(x.name, utf8), nstr(x.adl, utf8), nstr(x.mailbox, utf8), nstr(x.host, utf8)])).join('')})`;
}

/** RFC 3501 §7.4.2 ENVELOPE. Sender and Reply-To default to From (§7.4.2 and §2.3.5). */
export function formatEnvelope(e: Envelope, utf8 = false): string {
  const sender = e.sender.length ? e.sender : e.from;
  const replyTo = e.replyTo.length ? e.replyTo : e.from;
  return list([
    nstr(e.date, utf8),
    nstr(e.subject, utf8),
    addresses(e.from, utf8),
    addresses(sender, utf8),
    addresses(replyTo, utf8),
    addresses(e.to, utf8),
    addresses(e.cc, utf8),
    addresses(e.bcc, utf8),
    nstr(e.inReplyTo, utf8),
    nstr(e.messageId, utf8),
  ]);
}

function params(p: Record<string, string>, utf8: boolean): string {
  const keys = Object.keys(p);
  if (!keys.length) return 'NIL';
  return list(
    keys.flatMap((k) => {
      const v = p[k]!;
      // Values were decoded at delivery (RFC 2231); an 8-bit one goes back out RFC 2231-encoded
      // (name*=utf-8''...), as Dovecot shows it, so the structure stays 7-bit.
      if (!utf8 && /[^\x00-\x7f]/.test(v)) {
        const enc = [...Buffer.from(v, 'utf8')].map((b) => (/[A-Za-z0-9!#$&+.^_`|~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
        return [str(`${k.toUpperCase()}*`, utf8), str(`utf-8''${enc}`, utf8)];
      }
      return [str(k.toUpperCase(), utf8), str(v, utf8)];
    }),
  );
}

/** RFC 2045 §5.2: text without a charset parameter is us-ascii; say so, as Dovecot does. */
function partParams(p: BodyPart): Record<string, string> {
  if (p.type === 'text' && !('charset' in p.params)) return { charset: 'us-ascii', ...p.params };
  return p.params;
}

function disposition(d: BodyPart['disposition'], utf8: boolean): string {
  if (!d) return 'NIL';
  return list([str(d.type.toUpperCase(), utf8), params(d.params, utf8)]);
}

function language(l: string[] | null, utf8: boolean): string {
  if (!l || !l.length) return 'NIL';
  return list(l.map((x) => str(x, utf8)));
}

/**
 * BODYSTRUCTURE (ext = true) or BODY (ext = false) of a part, RFC 3501 §7.4.2 and §9 body.
 */
export function formatBodyStructure(p: BodyPart, ext: boolean, utf8 = false): string {
  if (p.type === 'multipart') {
    const parts = (p.parts ?? []).map((c) => formatBodyStructure(c, ext, utf8)).join('');
    // RFC 3501 §9: body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
    const head = `(${parts || '("TEXT" "PLAIN" NIL NIL NIL "7BIT" 0 0)'} ${str(p.subtype.toUpperCase(), utf8)}`;
    if (!ext) return head + ')';
    return `${head} ${params(p.params, utf8)} ${disposition(p.disposition, utf8)} ${language(p.language, utf8)} ${nstr(p.location, utf8)})`;
  }
  const fields = [
    str(p.type.toUpperCase(), utf8),
    str(p.subtype.toUpperCase(), utf8),
    params(partParams(p), utf8),
    nstr(p.id, utf8),
    nstr(p.description, utf8),
    str(p.encoding.toUpperCase(), utf8),
    String(Math.max(0, p.bodyEnd - p.bodyStart)),
  ];
  if (p.type === 'message' && (p.subtype === 'rfc822' || p.subtype === 'global') && p.message) {
    fields.push(formatEnvelope(p.message.envelope, utf8), formatBodyStructure(p.message.body, ext, utf8), String(p.lines));
  } else if (p.type === 'text') {
    fields.push(String(p.lines));
  }
  if (ext) fields.push(nstr(p.md5, utf8), disposition(p.disposition, utf8), language(p.language, utf8), nstr(p.location, utf8));
  return list(fields);
}
