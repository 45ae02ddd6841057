// `hutch build` (and `hutch image build`), as podman build spells its flags:
// they become BuildOptions for src/verbs/build.ts and nothing more.
import { Option, type Command } from 'commander';
import { HutchError } from '../errors.js';
import { addLimitFlags, limitsFromOptions, type LimitOptionValues } from './cgroup-flags.js';
import { parseUlimits } from '../run/rlimits.js';
import { parseBool } from './registry.js';

const collect = (value: string, previous: string[]) => [...previous, value];

interface BuildFlags extends LimitOptionValues {
  tag: string[];
  file?: string;
  buildArg: string[];
  target?: string;
  cache: boolean;
  pull?: string | boolean;
  label: string[];
  iidfile?: string;
  quiet?: boolean;
  format: string;
  platform?: string;
  timestamp?: string;
  network?: string;
  dns: string[];
  dnsSearch: string[];
  addHost: string[];
  tlsVerify: boolean;
  secret: string[];
  squash?: boolean;
  squashAll?: boolean;
  cacheFrom: string[];
  cacheTo: string[];
  ssh: string[];
  buildContext: string[];
  ulimit: string[];
}

/** Flags podman build has that hutch refuses rather than ignores. */
const REFUSED: [keyof BuildFlags, string][] = [
  ['ssh', '--ssh'],
  ['buildContext', '--build-context'],
];

function refuseUnsupported(flags: BuildFlags): void {
  for (const [key, flag] of REFUSED) {
    const value = flags[key];
    if (value === undefined || value === false || (Array.isArray(value) && value.length === 0)) continue;
    throw new HutchError(`${flag} is not supported by hutch build yet`, { hint: `build without ${flag}` });
  }
}

function pullPolicy(value: string | boolean | undefined): 'missing' | 'always' | 'never' {
  if (value === undefined || value === false || value === 'missing' || value === 'false') return 'missing';
  if (value === true || value === 'always' || value === 'true') return 'always';
  if (value === 'never') return 'never';
  throw new HutchError(`invalid --pull ${JSON.stringify(value)}`, {
    hint: 'use --pull (always), --pull=missing or --pull=never',
  });
}

function buildArgs(values: string[], env: NodeJS.ProcessEnv): Map<string, string> {
  const args = new Map<string, string>();
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq === 0)
      throw new HutchError(`invalid --build-arg ${JSON.stringify(value)}`, { hint: 'write --build-arg NAME=VALUE' });
    if (eq > 0) args.set(value.slice(0, eq), value.slice(eq + 1));
    // A bare NAME takes the value from the environment, as docker and podman do.
    else if (env[value] !== undefined) args.set(value, env[value]);
  }
  return args;
}

function timestampOf(flag: string | undefined, env: NodeJS.ProcessEnv): Date | undefined {
  const text = flag ?? env.SOURCE_DATE_EPOCH;
  if (text === undefined || text === '') return undefined;
  if (!/^\d+$/.test(text)) {
    throw new HutchError(
      `invalid ${flag === undefined ? 'SOURCE_DATE_EPOCH' : '--timestamp'} ${JSON.stringify(text)}`,
      {
        hint: 'give seconds since the epoch, e.g. --timestamp 0',
      },
    );
  }
  return new Date(Number(text) * 1000);
}

function addBuild(parent: Command, name: string): void {
  addLimitFlags(parent.command(name))
    .description('build an image from a Containerfile')
    .argument('[context]', 'the build context directory', '.')
    .option('-t, --tag <name>', 'name the image (repeatable)', collect, [])
    .option('-f, --file <file>', 'the Containerfile (- for standard input)')
    .option('--build-arg <name=value>', 'set a build ARG (repeatable)', collect, [])
    .option('--target <stage>', 'build up to this stage')
    .option('--no-cache', 'do not use cached layers')
    .option('--pull [policy]', 'pull base images: always (the flag alone), missing (default), never')
    .option('--label <key=value>', 'add a label to the image (repeatable)', collect, [])
    .option('--iidfile <file>', 'write the image id to this file')
    .option('-q, --quiet', 'print only the image id')
    .addOption(new Option('--format <format>', 'the manifest type').choices(['oci', 'docker']).default('oci'))
    .option('--platform <os/arch>', 'the platform to build for (FROM images are pulled for it)')
    .option('--timestamp <seconds>', 'created times and layer mtimes fixed to this time (SOURCE_DATE_EPOCH too)')
    .option('--network <mode>', 'network of RUN steps: slirp4netns[:opts] (default), pasta[:opts], none, host')
    .option('--dns <ip>', 'a DNS server for RUN steps (repeatable)', collect, [])
    .option('--dns-search <domain>', 'a DNS search domain for RUN steps (repeatable)', collect, [])
    .option('--add-host <host:ip>', 'an /etc/hosts entry for RUN steps (repeatable)', collect, [])
    .option(
      '--tls-verify [bool]',
      'require HTTPS and verify certificates (--tls-verify=false: do not)',
      parseBool('--tls-verify'),
      true,
    )
    .option(
      '--secret <id=…,src=…>',
      'a secret for RUN --mount=type=secret: id=NAME,src=FILE or id=NAME,env=VAR (repeatable)',
      collect,
      [],
    )
    .option(
      '--ulimit <type=soft[:hard]>',
      'a resource limit set in RUN steps: nofile, nproc, core, … (-1: as much as you have; host: yours; repeatable)',
      collect,
      [],
    )
    .option('--squash', "squash the build's new layers into one")
    .option('--squash-all', "squash all of the image's layers into one")
    .option('--cache-from <repo>', 'a registry repository to take cached steps from (repeatable)', collect, [])
    .option('--cache-to <repo>', 'a registry repository to store each step in, as cache (repeatable)', collect, [])
    .option('--ssh <id>', 'not supported yet', collect, [])
    .option('--build-context <name=dir>', 'not supported yet', collect, [])
    .action(async (context: string, flags: BuildFlags) => {
      refuseUnsupported(flags);
      const limits = limitsFromOptions(flags);
      const env = process.env;
      const labels: Record<string, string> = {};
      for (const label of flags.label) {
        const eq = label.indexOf('=');
        labels[eq < 0 ? label : label.slice(0, eq)] = eq < 0 ? '' : label.slice(eq + 1);
      }
      const { build } = await import('../verbs/build.js');
      const id = await build(
        {
          contextDir: context,
          file: flags.file,
          tags: flags.tag,
          buildArgs: buildArgs(flags.buildArg, env),
          target: flags.target,
          noCache: !flags.cache,
          cacheFrom: flags.cacheFrom,
          cacheTo: flags.cacheTo,
          pull: pullPolicy(flags.pull),
          labels,
          iidfile: flags.iidfile,
          quiet: flags.quiet === true,
          format: flags.format as 'oci' | 'docker',
          platform: flags.platform,
          timestamp: timestampOf(flags.timestamp, env),
          network: {
            ...(flags.network === undefined ? {} : { network: flags.network }),
            dns: flags.dns,
            dnsSearch: flags.dnsSearch,
            addHost: flags.addHost,
          },
          tlsVerify: flags.tlsVerify,
          secrets: flags.secret,
          limits,
          ulimits: parseUlimits(flags.ulimit),
          squash: flags.squashAll === true ? 'all' : flags.squash === true ? 'new' : 'none',
          stdout: process.stdout,
          stderr: process.stderr,
        },
        env,
      );
      process.stdout.write(`${id.replace(/^sha256:/, '')}\n`);
    });
}

export function registerBuild(program: Command): void {
  addBuild(program, 'build');
  const image = program.commands.find((c) => c.name() === 'image');
  if (image !== undefined) addBuild(image, 'build');
}
