// The container verbs around a container that exists: exec, logs, inspect,
// top, cp, commit, export, restart and `container prune`, each also under
// `hutch container`. Flags become typed options; the work is in src/verbs
// (one module per verb), loaded when the verb runs; what it returns is
// printed here.
import { createInterface } from 'node:readline';
import { Option, type Command } from 'commander';
import { acceptBoolValues } from './bool-flags.js';
import { HutchError } from '../errors.js';
import { containerGroup } from './containers.js';
import { formatInspect } from './format/template.js';
import { print, printOutcomes, processStdio, warn } from './output.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function integer(flag: string, options: { allowMinusOne?: boolean } = {}): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value) && !(options.allowMinusOne === true && value === '-1')) {
      throw new HutchError(`invalid argument ${JSON.stringify(value)} for "${flag}" flag: not a whole number`);
    }
    return Number(value);
  };
}

/** A y/N question on the terminal, as podman asks before pruning. */
export async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await new Promise<string>((resolve) => {
      rl.question(question, resolve);
      rl.once('close', () => resolve(''));
    });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

interface ExecValues {
  interactive?: boolean;
  tty?: boolean;
  detach?: boolean;
  user?: string;
  env: string[];
  envFile: string[];
  workdir?: string;
  privileged?: boolean;
}

function addExec(parent: Command): void {
  parent
    .command('exec')
    .description('run a process in a running container')
    .argument('<container>', 'name or id')
    .argument('<command...>', 'the command and its arguments')
    .option('-i, --interactive', 'keep stdin open')
    .option('-t, --tty', 'allocate a pseudo-terminal')
    .option('-d, --detach', 'run in the background and print the exec session id')
    .option('-u, --user <user[:group]>', "run as this user (default: the container's)")
    .option(
      '-e, --env <KEY=VALUE>',
      'set an environment variable (repeatable; KEY alone takes the host value)',
      collect,
      [],
    )
    .option('--env-file <file>', 'read environment variables from a file (repeatable)', collect, [])
    .option('-w, --workdir <dir>', "the working directory (default: the container's)")
    .option('--privileged', 'every capability for this process')
    .passThroughOptions()
    .action(async (container: string, command: string[], o: ExecValues) => {
      const { exec } = await import('../verbs/exec.js');
      const outcome = await exec(
        {
          container,
          command,
          interactive: o.interactive === true,
          tty: o.tty === true,
          detach: o.detach === true,
          user: o.user,
          env: o.env,
          envFile: o.envFile,
          workdir: o.workdir,
          privileged: o.privileged === true,
        },
        processStdio,
      );
      if ('detached' in outcome) {
        print(`${outcome.detached}\n`);
        process.exitCode = 0;
      } else process.exitCode = outcome.status;
    });
}

function addLogs(parent: Command): void {
  parent
    .command('logs')
    .description("print a container's output")
    .argument('<container>', 'name or id')
    .option('-f, --follow', 'keep printing until the container exits')
    .option('-t, --timestamps', 'prefix each line with its time')
    .option('--tail <lines>', 'only the last N lines (-1: all)', integer('--tail', { allowMinusOne: true }), -1)
    .option('--since <time>', 'only lines since a time (RFC 3339, Unix seconds) or a duration ago (10m)')
    .option('--until <time>', 'only lines until a time (RFC 3339, Unix seconds) or a duration ago (10m)')
    .action(
      async (
        container: string,
        o: { follow?: boolean; timestamps?: boolean; tail: number; since?: string; until?: string },
      ) => {
        const { logs } = await import('../verbs/logs.js');
        await logs(
          {
            container,
            follow: o.follow === true,
            timestamps: o.timestamps === true,
            tail: o.tail,
            since: o.since,
            until: o.until,
          },
          processStdio,
        );
      },
    );
}

/** Prints what inspect found, then fails with the last name it did not (the others on stderr first). */
export async function printInspect(names: string[], type: string, format: string | undefined): Promise<void> {
  const { parseInspectType } = await import('../run/container/inspect.js');
  const { inspect } = await import('../verbs/inspect.js');
  const result = await inspect(names, parseInspectType(type));
  printInspected(result, format);
}

/** The objects found (a JSON array, or a --format template per object), then the last error, the others on stderr first. */
export function printInspected(
  result: { objects: Record<string, unknown>[]; errors: Error[] },
  format: string | undefined,
): void {
  print(formatInspect(result.objects, format));
  const last = result.errors.at(-1);
  if (last === undefined) return;
  for (const error of result.errors.slice(0, -1)) process.stderr.write(`Error: ${error.message}\n`);
  throw last;
}

function addContainerInspect(parent: Command): void {
  parent
    .command('inspect')
    .description('show the configuration and state of containers, as JSON')
    .argument('<containers...>', 'names or ids')
    .option('-f, --format <format>', 'json (default), or a Go template such as {{.State.Status}}')
    .action(async (names: string[], o: { format?: string }) => {
      await printInspect(names, 'container', o.format);
    });
}

function addTop(parent: Command): void {
  parent
    .command('top')
    .description("list a container's processes")
    .argument('<container>', 'name or id')
    .argument(
      '[descriptors...]',
      'columns: user pid ppid pcpu etime tty time args comm group nice pgid state vsz rss …',
    )
    .passThroughOptions()
    .action(async (container: string, descriptors: string[]) => {
      const { top } = await import('../verbs/top.js');
      const { tabulate } = await import('./format/table.js');
      const outcome = await top(container, descriptors, processStdio);
      if ('table' in outcome) {
        print(tabulate(outcome.table));
        process.exitCode = 0;
      } else process.exitCode = outcome.status;
    });
}

function addCp(parent: Command): void {
  const command = parent
    .command('cp')
    .description('copy files between a container and the host, or between containers (- : a tar on stdin or stdout)')
    .argument('<source>', '[CONTAINER:]PATH, or - for a tar archive on stdin')
    .argument('<destination>', '[CONTAINER:]PATH, or - for a tar stream on stdout')
    .option('-a, --archive', "chown copied files to the destination container's user (default true)")
    .option('--no-archive', 'keep the owners (uid and gid) the files come with')
    .option('--overwrite', 'let a directory replace a non-directory and the other way round')
    // podman 4.3 still takes these, deprecated and without effect, and hides them.
    .addOption(new Option('--pause').hideHelp())
    .addOption(new Option('--no-pause').hideHelp())
    .addOption(new Option('--extract').hideHelp())
    .addOption(new Option('--no-extract').hideHelp())
    .action(async (source: string, destination: string, o: { archive?: boolean; overwrite?: boolean }) => {
      const { cp } = await import('../verbs/cp.js');
      await cp({
        source,
        destination,
        archive: o.archive !== false,
        overwrite: o.overwrite === true,
        stdin: process.stdin,
        stdout: process.stdout,
      });
    });
  acceptBoolValues(command, [
    { long: 'archive', short: 'a' },
    { long: 'overwrite' },
    { long: 'pause' },
    { long: 'extract' },
  ]);
}

function addCommit(parent: Command): void {
  parent
    .command('commit')
    .description("create an image from a container's changes")
    .argument('<container>', 'name or id')
    .argument('[image]', 'the name to give the image')
    .option('-m, --message <message>', 'the history comment')
    .option('-a, --author <author>', 'the author of the image')
    .option(
      '-c, --change <instruction>',
      'apply CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR or STOPSIGNAL',
      collect,
      [],
    )
    .option('-p, --pause', 'pause the container while committing (not supported rootless: refused)')
    .option('-q, --quiet', 'print only the image id (hutch prints nothing else anyway)')
    .action(
      async (
        container: string,
        image: string | undefined,
        o: { message?: string; author?: string; change: string[]; pause?: boolean },
      ) => {
        const { commit } = await import('../verbs/commit.js');
        const { hexOf } = await import('../image/digest.js');
        const id = await commit({
          container,
          image,
          message: o.message,
          author: o.author,
          changes: o.change,
          pause: o.pause === true,
          onWarning: warn,
        });
        // The image id, as podman prints it.
        print(`${hexOf(id)}\n`);
      },
    );
}

function addExport(parent: Command): void {
  parent
    .command('export')
    .description("write a container's root file system as a tar")
    .argument('<container>', 'name or id')
    .option('-o, --output <file>', 'the tar to write (default: stdout, which must not be a terminal)')
    .action(async (container: string, o: { output?: string }) => {
      const { exportContainer } = await import('../verbs/export.js');
      await exportContainer(container, o.output, process.stdout);
    });
}

function addRestart(parent: Command): void {
  parent
    .command('restart')
    .description('stop and start containers again')
    .argument('[containers...]', 'names or ids')
    .option('-a, --all', 'every container')
    .option('--running', 'with --all: only the running ones')
    .option('-l, --latest', 'act on the container created last')
    .option('--cidfile <file>', 'read the container id from this file (repeatable)', collect, [])
    .option('-f, --filter <KEY=VALUE>', 'act on the containers that match KEY=VALUE (repeatable)', collect, [])
    .option('-t, --time <seconds>', 'seconds to wait before SIGKILL (default: the stop timeout, 10)', integer('--time'))
    .action(
      async (
        names: string[],
        o: { time?: number; all?: boolean; running?: boolean; latest?: boolean; cidfile: string[]; filter: string[] },
      ) => {
        const { restart } = await import('../verbs/restart.js');
        const options = {
          names,
          all: o.all === true,
          running: o.running === true,
          latest: o.latest === true,
          cidfiles: o.cidfile,
          filters: o.filter,
          timeoutSeconds: o.time,
        };
        await printOutcomes(restart(options), (name) => `${name}\n`, 'last');
      },
    );
}

function addPrune(parent: Command): void {
  parent
    .command('prune')
    .description('remove every container that is not running')
    .option('-f, --force', 'do not ask for confirmation')
    .action(async (o: { force?: boolean }) => {
      if (o.force !== true) {
        const ok = await confirm(
          'WARNING! This will remove all non running containers.\nAre you sure you want to continue? [y/N] ',
        );
        if (!ok) return;
      }
      const { pruneContainers } = await import('../verbs/container-prune.js');
      const report = await pruneContainers();
      for (const warning of report.warnings) warn(warning);
      for (const id of report.removed) print(`${id}\n`);
    });
}

export function registerContainerTools(program: Command): void {
  for (const add of [addExec, addLogs, addTop, addCp, addCommit, addExport, addRestart]) add(program);
  const container = containerGroup(program);
  for (const add of [addExec, addLogs, addContainerInspect, addTop, addCp, addCommit, addExport, addRestart, addPrune])
    add(container);
}
