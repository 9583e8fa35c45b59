// Message metadata, computed once when a message is stored (delivery, APPEND, the queue) and
// kept with it in the store, so that POP3 TOP, IMAP FETCH ENVELOPE/BODYSTRUCTURE/BODY[1.2] and
// the console never re-parse a message (DESIGN.md principle 6).
//
// Offsets are octet offsets into the blob (the message as received, CRLF line ends). A stored
// message is `headerPrefix ‖ blob`; a reader adds headerPrefix.length to every offset, and the
// top-level header as seen by a client starts at 0 of the whole message (the prefix's
// Return-Path/Delivered-To lines are part of it).
//
// Header values in the envelope are kept as they appear on the wire (unfolded, RFC 2047 encoded
// words not decoded): IMAP's ENVELOPE returns them so (RFC 3501 §7.4.2). `decoded` fields are
// for display and search.

/** An address as IMAP's ENVELOPE wants it (RFC 3501 §7.4.2); groups as name-only markers. */
export interface EnvelopeAddress {
  /** Display name (phrase), raw; null if none. */
  name: string | null;
  /** Source route (obsolete), null almost always. */
  adl: string | null;
  /** Local part; for a group start marker, the group name; null for a group end marker. */
  mailbox: string | null;
  /** Domain; null for group markers. */
  host: string | null;
}

export interface Envelope {
  date: string | null;
  subject: string | null;
  from: EnvelopeAddress[];
  sender: EnvelopeAddress[];
  replyTo: EnvelopeAddress[];
  to: EnvelopeAddress[];
  cc: EnvelopeAddress[];
  bcc: EnvelopeAddress[];
  inReplyTo: string | null;
  messageId: string | null;
}

/** One MIME entity (the message itself, a part, or an attached message/rfc822). */
export interface BodyPart {
  /** Lower case, e.g. "text", "multipart", "message". Defaults per RFC 2045 §5.2. */
  type: string;
  subtype: string;
  /** Content-Type parameters, names lower case, values decoded (RFC 2231 continuations joined). */
  params: Record<string, string>;
  id: string | null;
  description: string | null;
  /** Content-Transfer-Encoding as given, lower case; "7bit" when absent. */
  encoding: string;
  md5: string | null;
  disposition: { type: string; params: Record<string, string> } | null;
  language: string[] | null;
  location: string | null;
  /** Where this entity's header starts, and where its body starts and ends (blob offsets). */
  headerStart: number;
  bodyStart: number;
  bodyEnd: number;
  /** Lines in the body (text/* and message/rfc822 need it for BODYSTRUCTURE). */
  lines: number;
  /** multipart/*: the parts, in order. */
  parts?: BodyPart[];
  /** message/rfc822 (and message/global): the attached message's envelope and body. */
  message?: { envelope: Envelope; body: BodyPart };
}

export interface MessageMeta {
  /** Bumped when the shape changes; readers re-parse older metadata. */
  version: 1;
  /** Octets of the blob. */
  size: number;
  /** Lines of the blob. */
  lines: number;
  /** End of the top-level header block (offset of the blank line's end, i.e. the body start). */
  headerEnd: number;
  envelope: Envelope;
  body: BodyPart;
  /** Decoded for display and search. */
  decoded: { subject: string; from: string; to: string };
  /** Parsed Date: header as epoch ms, or null when absent or unparseable. */
  dateMs: number | null;
  /** Octets above 127 appear (needs 8BITMIME / SMTPUTF8 to relay). */
  eightBit: boolean;
  /** Why this does not look like an RFC 5322 message, or null when it does. */
  problem: string | null;
}

// The implementation: an incremental parser (any chunking, flat memory) and a one-shot helper.
export { createMetaParser, messageMeta, envelopeOf } from './meta-parser.js';
export type { MetaParser } from './meta-parser.js';
