// The DNS codec's one error: anything malformed (bytes on decode, values on encode) is a
// DnsWireError with code WHARF_DNS_FORMAT. A server answers a decode failure with FORMERR.

import { WharfError } from '../../core/errors.js';

export const DNS_FORMAT = 'WHARF_DNS_FORMAT';

export class DnsWireError extends WharfError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(DNS_FORMAT, message, details);
    this.name = 'DnsWireError';
  }
}
