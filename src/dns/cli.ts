// CLI commands of this module: wharf zone.
import type { Command } from '../cli/context.js';

export const dnsCommands: Command[] = [];
