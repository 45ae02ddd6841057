// `hutch volume create|ls|inspect|rm|prune`, as podman spells and prints them.
// The volumes are src/run/volumes.ts; which containers use one, the container
// store tells (src/run/container/prune.ts). Loaded when a verb runs.
import type { Command } from 'commander';
import { HutchError } from '../errors.js';
import { confirm, printInspect } from './container-tools.js';

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

/** The session, the volumes module, and who uses each volume. */
async function openVolumes() {
  const { openRuntime } = await import('../run/container/lifecycle.js');
  const { volumeUsers, removeVolumeUsers } = await import('../run/container/prune.js');
  const volumes = await import('../run/volumes.js');
  const runtime = await openRuntime();
  return {
    volumes,
    storage: runtime.paths.storage,
    usedBy: volumeUsers(runtime),
    removeUsers: (name: string) => removeVolumeUsers(runtime, name),
  };
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
        if (o.driver !== 'local') {
          throw new HutchError(`volume driver ${JSON.stringify(o.driver)} is not supported`, { hint: 'use local' });
        }
        const { volumes, storage } = await openVolumes();
        const made = await volumes.createVolume(storage, {
          ...(name === undefined ? {} : { name }),
          labels: parseLabels(o.label),
          options: parseLabels(o.opt),
          ignoreIfExists: o.ignore === true,
        });
        process.stdout.write(`${made.Name}\n`);
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
      const { volumes, storage, usedBy } = await openVolumes();
      const { renderTemplate, tabulate } = await import('../image/images.js');
      const list = volumes.listVolumes(storage, { filters: o.filter, usedBy });
      if (o.quiet === true) process.stdout.write(list.map((v) => `${v.Name}\n`).join(''));
      else if (o.format === 'json') process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      else if (o.format !== undefined && o.format !== '' && o.format !== 'table')
        process.stdout.write(list.map((v) => renderTemplate(o.format as string, v)).join(''));
      else process.stdout.write(tabulate([['DRIVER', 'VOLUME NAME'], ...list.map((v) => [v.Driver, v.Name])]));
    });

  volume
    .command('inspect')
    .description('show volumes, as JSON')
    .argument('[names...]', 'volume names')
    .option('-a, --all', 'every volume')
    .option('-f, --format <format>', 'json (default), or a Go template such as {{.Mountpoint}}')
    .action(async (names: string[], o: { all?: boolean; format?: string }) => {
      let targets = names;
      if (o.all === true) {
        if (names.length > 0) throw new HutchError('when using the --all switch, you may not pass any volume names');
        const { volumes, storage } = await openVolumes();
        targets = volumes.listVolumes(storage).map((v) => v.Name);
        if (targets.length === 0) {
          process.stdout.write('[]\n');
          return;
        }
      } else if (names.length === 0) {
        throw new HutchError('provide one or more volume names or use --all');
      }
      await printInspect(targets, 'volume', o.format);
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
      const { volumes, storage, usedBy, removeUsers } = await openVolumes();
      const targets = o.all === true ? volumes.listVolumes(storage).map((v) => v.Name) : names;
      let last: unknown;
      for (const name of targets) {
        try {
          if (o.force === true && usedBy(name).length > 0) {
            await removeUsers(name);
          }
          await volumes.removeVolume(storage, name, { force: o.force === true, usedBy });
          process.stdout.write(`${name}\n`);
        } catch (error) {
          if (last !== undefined) process.stderr.write(`Error: ${(last as Error).message}\n`);
          last = error;
        }
      }
      if (last !== undefined) throw last;
    });

  volume
    .command('prune')
    .description('remove every volume no container uses')
    .option('-f, --force', 'do not ask for confirmation')
    .option('--filter <key=value>', 'only volumes that match (as volume ls --filter)', collect, [])
    .action(async (o: { force?: boolean; filter: string[] }) => {
      const { volumes, storage, usedBy } = await openVolumes();
      if (o.force !== true) {
        const unused = volumes
          .listVolumes(storage, { filters: o.filter, usedBy })
          .filter((v) => usedBy(v.Name).length === 0)
          .map((v) => `${v.Name}\n`)
          .join('');
        const ok = await confirm(
          `WARNING! This will remove all volumes not used by at least one container. The following volumes will be removed:\n${unused}Are you sure you want to continue? [y/N] `,
        );
        if (!ok) return;
      }
      for (const name of await volumes.pruneVolumes(storage, { filters: o.filter, usedBy })) {
        process.stdout.write(`${name}\n`);
      }
    });
}
