// Every CLI command, by name. Protocol modules contribute theirs from src/<module>/cli.ts.
import { consoleCommands } from '../../console/cli.js';
import { dnsCommands } from '../../dns/cli.js';
import { labCommands } from '../../lab/cli.js';
import { resolverCommands } from '../../dns/resolver/cli.js';
import { mailCommands } from '../../mail/cli.js';
import { smtpCommands } from '../../smtp/cli.js';
import type { Command } from '../context.js';
import { adminCommands } from './admin.js';
import { startCommand } from './start.js';

export const commands: Command[] = [startCommand, ...adminCommands, ...mailCommands, ...smtpCommands, ...dnsCommands, ...resolverCommands, ...labCommands, ...consoleCommands];
