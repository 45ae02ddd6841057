// `hutch version`: podman's Client section, or --format json / a Go template ({{.Client.Version}}).
import type { Command } from 'commander';

export function registerVersion(program: Command): void {
  program
    .command('version')
    .description('show the version of hutch and of what runs it')
    .option('-f, --format <format>', 'json, or a Go template such as {{.Client.Version}}')
    .action(async (options: { format?: string }) => {
      const { versionReport } = await import('../verbs/version.js');
      const { formatVersion } = await import('./format/version.js');
      process.stdout.write(formatVersion(versionReport(), options.format));
    });
}
