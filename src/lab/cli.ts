// `wharf lab`: the textbook Internet on loopback (issue 9).
import type { Command } from '../cli/context.js';

export const labCommands: Command[] = [];
