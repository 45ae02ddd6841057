import type { Command } from 'commander';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('show what hutch found on this host, what it will use, and what is missing')
    .option('-f, --format <format>', 'output format: json (default: text)')
    .action(async (options: { format?: string }) => {
      const { showInfo } = await import('./info-view.js');
      await showInfo(options);
    });
}
