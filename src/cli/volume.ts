// `hutch volume create|ls|inspect|rm|prune`, as podman spells and prints them.
// The work is in src/verbs/volume-*.ts, loaded when a verb runs.
import type { Command } from 'commander';
import { HutchError } from '../errors.js';
import { confirm, printInspected } from './container-tools.js';
import { print, printOutcomes } from './output.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseLabels(labels: string[]): Record<string, string> {
  const result: Record<string, string> = {};
  for (const label of labels) {
    const eq = label.indexOf('=');
    const key = eq < 0 ? label : label.slice(0, eq);
    if (key === '') throw new HutchError(`invalid label ${JSON.stringify(label)}: the key is empty`);
    result[key] = eq < 0 ? '' : label.slice(eq + 1);
  }
  return result;
}

export function registerVolumes(program: Command): void {
  const volume = program.command('volume').description('manage volumes');

  volume
    .command('create')
    .description('create a volume (a random name when none is given)')
    .argument('[name]', 'the volume name, [a-zA-Z0-9][a-zA-Z0-9_.-]*')
    .option('-l, --label <key=value>', 'a label (repeatable)', collect, [])
    .option('-d, --driver <driver>', 'the volume driver (only local)', 'local')
    .option('-o, --opt <key=value>', 'a driver option (none supported yet)', collect, [])
    .option('--ignore', 'do not fail when the volume exists')
    .action(
      async (name: string | undefined, o: { label: string[]; driver: string; opt: string[]; ignore?: boolean }) => {
        const { volumeCreate } = await import('../verbs/volume-create.js');
        const made = await volumeCreate({
          ...(name === undefined ? {} : { name }),
          driver: o.driver,
          labels: parseLabels(o.label),
          options: parseLabels(o.opt),
          ignoreIfExists: o.ignore === true,
        });
        print(`${made.Name}\n`);
      },
    );

  volume
    .command('ls')
    .alias('list')
    .description('list volumes')
    .option('--format <format>', 'json, or a Go template ({{.Name}}, {{.Driver}}, {{.Mountpoint}})')
    .option(
      '-f, --filter <key=value>',
      'name=, label=KEY[=VALUE], dangling=true|false, driver=, anonymous=',
      collect,
      [],
    )
    .option('-q, --quiet', 'names only')
    .action(async (o: { format?: string; filter: string[]; quiet?: boolean }) => {
      const { volumeList } = await import('../verbs/volume-ls.js');
      const { isJsonFormat, renderList } = await import('./format/template.js');
      const { VOLUME_LS_REPORT } = await import('./format/reports.js');
      const { tabulate } = await import('./format/table.js');
      const list = await volumeList(o.filter);
      if (o.quiet === true) print(list.map((v) => `${v.Name}\n`).join(''));
      else if (o.format !== undefined && isJsonFormat(o.format)) print(`${JSON.stringify(list, null, 2)}\n`);
      // podman prints nothing for no volumes, not even a table's header.
      else if (o.format !== undefined && o.format !== '' && o.format !== 'table')
        print(list.length === 0 ? '' : renderList(o.format, list, VOLUME_LS_REPORT));
      else print(tabulate([['DRIVER', 'VOLUME NAME'], ...list.map((v) => [v.Driver, v.Name])]));
    });

  volume
    .command('inspect')
    .description('show volumes, as JSON')
    .argument('[names...]', 'volume names')
    .option('-a, --all', 'every volume')
    .option('-f, --format <format>', 'json (default), or a Go template such as {{.Mountpoint}}')
    .action(async (names: string[], o: { all?: boolean; format?: string }) => {
      if (o.all === true) {
        if (names.length > 0) throw new HutchError('when using the --all switch, you may not pass any volume names');
      } else if (names.length === 0) {
        throw new HutchError('provide one or more volume names or use --all');
      }
      const { volumeInspect } = await import('../verbs/volume-inspect.js');
      const result = await volumeInspect(names, { all: o.all === true });
      if (result === 'none') print('[]\n');
      else printInspected(result, o.format);
    });

  volume
    .command('rm')
    .alias('remove')
    .description('remove volumes (and, with -f, the containers that use them)')
    .argument('[names...]', 'volume names')
    .option('-a, --all', 'every volume')
    .option('-f, --force', 'remove the containers that use the volume first')
    .action(async (names: string[], o: { all?: boolean; force?: boolean }) => {
      if (o.all === true && names.length > 0) {
        throw new HutchError('when using the --all switch, you may not pass any volume names');
      }
      if (o.all !== true && names.length === 0) throw new HutchError('choose either one or more volumes or all');
      const { volumeRemove } = await import('../verbs/volume-rm.js');
      const removed = volumeRemove(names, { all: o.all === true, force: o.force === true });
      await printOutcomes(removed, (name) => `${name}\n`, 'last');
    });

  volume
    .command('prune')
    .description('remove every volume no container uses')
    .option('-f, --force', 'do not ask for confirmation')
    .option('--filter <key=value>', 'only volumes that match (as volume ls --filter)', collect, [])
    .action(async (o: { force?: boolean; filter: string[] }) => {
      const { volumePrune } = await import('../verbs/volume-prune.js');
      const ask = (unused: string[]) =>
        confirm(
          `WARNING! This will remove all volumes not used by at least one container. The following volumes will be removed:\n${unused.map((name) => `${name}\n`).join('')}Are you sure you want to continue? [y/N] `,
        );
      const removed = await volumePrune({ filters: o.filter, ...(o.force === true ? {} : { confirm: ask }) });
      for (const name of removed ?? []) print(`${name}\n`);
    });
}
