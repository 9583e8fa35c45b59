// Zone errors: ZoneParseError (WHARF_ZONE_INVALID) names the file, line and column of the fault
// so an operator can go straight to it; validation problems use the same code.

import { WharfError } from '../../core/errors.js';

export const ZONE_INVALID = 'WHARF_ZONE_INVALID';

export class ZoneParseError extends WharfError {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly reason: string;
  constructor(reason: string, where: { file?: string | undefined; line: number; column: number }) {
    const file = where.file ?? '<zone>';
    super(ZONE_INVALID, `${file}:${where.line}:${where.column}: ${reason}`, { file, line: where.line, column: where.column });
    this.name = 'ZoneParseError';
    this.file = file;
    this.line = where.line;
    this.column = where.column;
    this.reason = reason;
  }
}
