// `hutch network create|exists|ls|inspect|rm|prune` and `hutch port`, as podman
// spells and prints them. The work is in src/verbs/network-*.ts and port.ts,
// loaded when a verb runs.
import type { Command } from 'commander';
import { HutchError } from '../errors.js';
import { confirm } from './container-tools.js';
import { containerGroup } from './containers.js';
import { print } from './output.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function keyValues(items: string[], what: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    if (key === '') throw new HutchError(`invalid ${what} ${JSON.stringify(item)}: the key is empty`);
    result[key] = eq < 0 ? '' : item.slice(eq + 1);
  }
  return result;
}

export function registerNetwork(program: Command): void {
  const network = program.command('network').description('manage networks that containers share');

  network
    .command('create')
    .description('create a network: its containers reach each other by name')
    .argument('[name]', 'the network name (default: hutchN)')
    .option('-d, --driver <driver>', 'the network driver (only bridge)', 'bridge')
    .option('--subnet <cidr>', 'an IPv4 subnet (default: the next free /24 of 10.89.0.0/16)')
    .option('--internal', 'no route out: containers reach only each other')
    .option('-o, --opt <key=value>', 'allow_host_loopback=true, mtu=N (repeatable)', collect, [])
    .option('--label <key=value>', 'a label (repeatable)', collect, [])
    .option('--ignore', 'do not fail when the network exists')
    .action(
      async (
        name: string | undefined,
        o: { driver: string; subnet?: string; internal?: boolean; opt: string[]; label: string[]; ignore?: boolean },
      ) => {
        const { networkCreate } = await import('../verbs/network-create.js');
        const made = await networkCreate({
          ...(name !== undefined ? { name } : {}),
          ...(o.subnet !== undefined ? { subnet: o.subnet } : {}),
          driver: o.driver,
          internal: o.internal === true,
          options: keyValues(o.opt, '-o'),
          labels: keyValues(o.label, '--label'),
          ignore: o.ignore === true,
        });
        print(`${made}\n`);
      },
    );

  network
    .command('exists')
    .description('exit 0 if a network of that name or id exists, 1 if not; prints nothing')
    .argument('<name>', 'network name or id')
    .action(async (name: string) => {
      const { networkExists } = await import('../verbs/network-exists.js');
      process.exitCode = networkExists(name) ? 0 : 1;
    });

  network
    .command('ls')
    .alias('list')
    .description('list networks')
    .option('--format <format>', 'json, or a Go template ({{.Name}}, {{.ID}}, {{.Driver}}, {{.Subnet}})')
    .option('-q, --quiet', 'names only')
    .option('--no-trunc', 'full ids')
    .action(async (o: { format?: string; quiet?: boolean; trunc?: boolean }) => {
      const { networkList } = await import('../verbs/network-ls.js');
      const { isJsonFormat, renderList } = await import('./format/template.js');
      const { NETWORK_LS_REPORT } = await import('./format/reports.js');
      const { tabulate } = await import('./format/table.js');
      const list = await networkList();
      if (o.quiet === true) print(list.map((n) => `${n.Name}\n`).join(''));
      else if (o.format !== undefined && isJsonFormat(o.format)) print(`${JSON.stringify(list, null, 2)}\n`);
      else if (o.format !== undefined && o.format !== '' && o.format !== 'table')
        print(renderList(o.format, list, NETWORK_LS_REPORT));
      else
        print(
          tabulate([
            ['NETWORK ID', 'NAME', 'DRIVER', 'SUBNET'],
            ...list.map((n) => [o.trunc === false ? n.ID : n.ID.slice(0, 12), n.Name, n.Driver, n.Subnet]),
          ]),
        );
    });

  network
    .command('inspect')
    .description('show networks, as JSON')
    .argument('<names...>', 'network names or ids')
    .option('-f, --format <format>', 'json (default), or a Go template such as {{.subnets}}')
    .action(async (names: string[], o: { format?: string }) => {
      const { networkInspect } = await import('../verbs/network-inspect.js');
      const { isJsonFormat, renderInspect } = await import('./format/template.js');
      const found = await networkInspect(names);
      if (o.format !== undefined && o.format !== '' && !isJsonFormat(o.format)) print(renderInspect(o.format, found));
      else print(`${JSON.stringify(found, null, 2)}\n`);
    });

  network
    .command('rm')
    .alias('remove')
    .description('remove networks (with -f, and the containers created with them)')
    .argument('<names...>', 'network names or ids')
    .option('-f, --force', 'remove the containers that use the network first')
    .action(async (names: string[], o: { force?: boolean }) => {
      const { networkRemove } = await import('../verbs/network-rm.js');
      const removed = await networkRemove(names, { force: o.force === true });
      print(removed.map((n) => `${n}\n`).join(''));
    });

  network
    .command('prune')
    .description('remove every network no container was created with')
    .option('-f, --force', 'do not ask for confirmation')
    .action(async (o: { force?: boolean }) => {
      if (o.force !== true) {
        const ok = await confirm(
          'WARNING! This will remove all networks not used by at least one container.\nAre you sure you want to continue? [y/N] ',
        );
        if (!ok) return;
      }
      const { networkPrune } = await import('../verbs/network-prune.js');
      const removed = await networkPrune();
      print(removed.map((n) => `${n}\n`).join(''));
    });

  for (const parent of [program, containerGroup(program)]) addPort(parent);
}

/** `port`, also under `hutch container`. */
function addPort(parent: Command): void {
  parent
    .command('port')
    .description("list a container's published ports")
    .argument('[container]', 'name or id')
    .argument('[port]', 'only this container port: PORT[/tcp|udp]')
    .option('-a, --all', 'every container')
    .action(async (container: string | undefined, port: string | undefined, o: { all?: boolean }) => {
      if (o.all === true && container !== undefined) throw new HutchError('--all takes no container');
      if (o.all !== true && container === undefined) throw new HutchError('give a container, or --all');
      const { publishedPorts } = await import('../verbs/port.js');
      print((await publishedPorts(container, port, o.all === true)).map((line) => `${line}\n`).join(''));
    });
}
