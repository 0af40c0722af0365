import type { Command } from './command.ts';
export const imageCommands: Command[] = [];
