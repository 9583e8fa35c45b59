// MIME: transfer encodings, charsets, encoded words, parameters, body decoding and composing.
export { decodeCharset, decodeHeaderBytes } from './charset.js';
export { decodeWords, encodeWords, encodeWord } from './encoded-words.js';
export { parseContentType, parseDisposition, parseParams, formatParams, decode2231 } from './params.js';
export type { ParsedContentType } from './params.js';
export { decodeQP, encodeQP, decodeBase64, encodeBase64 } from './qp.js';
export { decodeBody, decodeTransfer } from './body.js';
export { composeMessage, composeDsn, formatDeliveryStatus, foldField, headerBlock } from './compose.js';
export type { Attachment, ComposeOptions, DsnOptions, DsnRecipient } from './compose.js';
