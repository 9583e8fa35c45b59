// CLI commands of this module: wharf deliver.
import type { Command } from '../cli/context.js';

export const mailCommands: Command[] = [];
