// The DNS wire codec's public surface: one import for the server, the resolver and the tools.

export * from './types.js';
export * from './errors.js';
export * from './name.js';
export * from './records.js';
export * from './message.js';
export * from './edns.js';
export { parseIpv4, parseIpv6, formatIpv4, formatIpv6 } from './address.js';
export { bytesToText, textToBytes } from './bytes-text.js';
