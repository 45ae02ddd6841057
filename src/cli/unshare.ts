import type { Command } from 'commander';

export function registerUnshare(program: Command): void {
  program
    .command('unshare')
    .description("run a command in hutch's user namespace, as uid 0 there with your subordinate ids mapped")
    .argument('[command...]', 'the command and its arguments (default: $SHELL)')
    .passThroughOptions()
    .action(async (command: string[]) => {
      const { runUnshare } = await import('../verbs/unshare.js');
      await runUnshare({ command });
    });
}
