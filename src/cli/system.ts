// `hutch system`: df, prune and reset, as podman's (system check is images.ts's).
import type { Command } from 'commander';
import { goHumanSize } from './format/go-units.js';

const collect = (value: string, previous: string[]) => [...previous, value];

function systemGroup(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'system') ?? program.command('system').description('manage hutch itself')
  );
}

export function registerSystem(program: Command): void {
  const system = systemGroup(program);
  system
    .command('df')
    .description('show the disk space images, containers and volumes use')
    .option('-v, --verbose', 'show each image, container and volume')
    .option(
      '--format <format>',
      'json, or a Go template ({{.Type}}, {{.Total}}, {{.Active}}, {{.Size}}, {{.Reclaimable}})',
    )
    .action(async (options: { verbose?: boolean; format?: string }) => {
      const { diskUsage } = await import('../verbs/system-df.js');
      const { formatDf } = await import('./format/system-df.js');
      process.stdout.write(formatDf(await diskUsage(), options));
    });

  system
    .command('prune')
    .description('remove stopped containers, unused networks, dangling images and build cache (and more, on request)')
    .option('-a, --all', 'every image no container uses and the whole build cache, not only dangling ones')
    .option('--filter <key=value>', 'only images matching (label=…, until=…; repeatable)', collect, [])
    .option('-f, --force', 'do not ask for confirmation')
    .option('--volumes', 'volumes no container uses too')
    .action(async (options: { all?: boolean; filter: string[]; force?: boolean; volumes?: boolean }) => {
      if (options.force !== true) {
        const volumes = options.volumes === true ? '\n\t- all volumes not used by at least one container' : '';
        const images =
          options.all === true
            ? '\t- all images without at least one container associated with them\n\t- all build cache'
            : '\t- all dangling images\n\t- all dangling build cache';
        const { askYesNo } = await import('./prompt.js');
        const question =
          'WARNING! This command removes:\n\t- all stopped containers\n' +
          `\t- all networks not used by at least one container${volumes}\n${images}\n\n` +
          'Are you sure you want to continue? [y/N] ';
        if (!(await askYesNo(question))) return;
      }
      const { systemPrune } = await import('../verbs/system-prune.js');
      const { hexOf } = await import('../image/digest.js');
      const report = await systemPrune({
        all: options.all === true,
        volumes: options.volumes === true,
        filters: options.filter,
      });
      for (const warning of report.warnings) process.stderr.write(`warning: ${warning}\n`);
      const section = (title: string, lines: string[]) =>
        lines.length === 0 ? '' : `${title}\n${lines.map((l) => `${l}\n`).join('')}`;
      process.stdout.write(
        section('Deleted Containers', report.containers) +
          section('Deleted Volumes', report.volumes) +
          section('Deleted Images', report.images.map(hexOf)) +
          section('Deleted Networks', report.networks) +
          `Total reclaimed space: ${goHumanSize(report.reclaimed)}\n`,
      );
    });

  system
    .command('reset')
    .description('remove every container, image, volume and network, the build cache and the store')
    .option('-f, --force', 'do not ask for confirmation')
    .action(async (options: { force?: boolean }) => {
      const { resetTargets, systemReset } = await import('../verbs/system-reset.js');
      if (options.force !== true) {
        const { storage } = await resetTargets();
        const { askYesNo } = await import('./prompt.js');
        const question =
          'WARNING! This will remove:\n' +
          ['all containers', 'all images', 'all networks', 'all build cache', 'all volumes']
            .map((what) => `        - ${what}\n`)
            .join('') +
          `        - the store directory: ${JSON.stringify(storage)}\n` +
          'Are you sure you want to continue? [y/N] ';
        if (!(await askYesNo(question))) return;
      }
      const report = await systemReset();
      for (const warning of report.warnings) process.stderr.write(`warning: ${warning}\n`);
    });
}
