// CLI commands of this module: wharf queue, wharf send.
import type { Command } from '../cli/context.js';

export const smtpCommands: Command[] = [];
