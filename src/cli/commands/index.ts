// Every CLI command, by name. Protocol modules contribute theirs here (deliver, queue, zone…).
import type { Command } from '../context.js';
import { adminCommands } from './admin.js';
import { startCommand } from './start.js';

export const commands: Command[] = [startCommand, ...adminCommands];
