// `hutch build` (and `hutch image build`), as podman build spells its flags:
// they become BuildOptions for src/verbs/build.ts and nothing more.
import { Option, type Command } from 'commander';
import { closeLogfile, openLogfile } from '../build/logfile.js';
import type { BuildOptions } from '../build/options.js';
import { HutchError } from '../errors.js';
import type { Credentials } from '../image/registry/credentials.js';
import { parseVolumeFlag } from '../run/container/mount-options.js';
import { parseUlimits } from '../run/rlimits.js';
import { parseSecurityOpts } from '../run/security/security-options.js';
import { LAYERS, layersOf, PULL, pullPolicyOf, splitList, takeBack, TLS_VERIFY } from './build-flags.js';
import { addLimitFlags, limitsFromOptions, type LimitOptionValues } from './cgroup-flags.js';

const collect = (value: string, previous: string[]) => [...previous, value];

interface BuildFlags extends LimitOptionValues {
  tag: string[];
  file: string[];
  buildArg: string[];
  target?: string;
  cache: boolean;
  layers?: string | true;
  pull?: string | true;
  pullAlways?: boolean;
  pullNever?: boolean;
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
  tlsVerify?: string | true;
  authfile?: string;
  creds?: string;
  ignorefile?: string;
  logfile?: string;
  secret: string[];
  squash?: boolean;
  squashAll?: boolean;
  cacheFrom: string[];
  cacheTo: string[];
  ssh: string[];
  buildContext: string[];
  ulimit: string[];
  volume: string[];
  capAdd: string[];
  capDrop: string[];
  securityOpt: string[];
  env: string[];
  unsetenv: string[];
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

function credentialsOf(creds: string | undefined): Credentials | undefined {
  if (creds === undefined) return undefined;
  const colon = creds.indexOf(':');
  if (colon <= 0) throw new HutchError('invalid --creds', { hint: 'write --creds USER:PASSWORD' });
  return { username: creds.slice(0, colon), password: creds.slice(colon + 1) };
}

function labelsOf(values: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const label of values) {
    const eq = label.indexOf('=');
    labels[eq < 0 ? label : label.slice(0, eq)] = eq < 0 ? '' : label.slice(eq + 1);
  }
  return labels;
}

function addBuild(parent: Command, name: string, extra: (command: Command) => Command = (c) => c): void {
  extra(addLimitFlags(parent.command(name)))
    .description('build an image from a Containerfile')
    .argument(
      '[context]',
      'the build context: a directory, or - for a tar archive or a Containerfile on standard input',
    )
    .option('-t, --tag <name>', 'name the image (repeatable)', collect, [])
    .option(
      '-f, --file <file>',
      'a Containerfile, relative to here or else to the context; - for standard input (repeatable: read as one)',
      collect,
      [],
    )
    .option('--build-arg <name=value>', 'set a build ARG (repeatable)', collect, [])
    .option('--target <stage>', 'build up to this stage')
    .option('--no-cache', 'do not use cached layers')
    .option('--layers [bool]', 'cache each step as a layer (default: true, or BUILDAH_LAYERS)')
    .option('--pull [policy]', 'pull base images: always (the flag alone), missing (default), never')
    .addOption(new Option('--pull-always', 'pull base images first, always').hideHelp())
    .addOption(new Option('--pull-never', 'never pull base images').hideHelp())
    .option('--ignorefile <file>', "the ignore file instead of the context's .containerignore or .dockerignore")
    .option('--label <key=value>', 'add a label to the image (repeatable)', collect, [])
    .option('--env <name=value>', "set an environment variable in the image's config (repeatable)", collect, [])
    .option('--unsetenv <name>', "remove an environment variable from the image's config (repeatable)", collect, [])
    .option('--iidfile <file>', 'write the image id to this file')
    .option('--logfile <file>', 'write the build output to this file instead of stdout and stderr')
    .option('-q, --quiet', 'print only the image id')
    .addOption(new Option('--format <format>', 'the manifest type').choices(['oci', 'docker']).default('oci'))
    .option('--platform <os/arch>', 'the platform to build for (FROM images are pulled for it)')
    .option('--timestamp <seconds>', 'created times and layer mtimes fixed to this time (SOURCE_DATE_EPOCH too)')
    .option('--network <mode>', 'network of RUN steps: slirp4netns[:opts] (default), pasta[:opts], none, host')
    .option('--dns <ip>', 'a DNS server for RUN steps (repeatable)', collect, [])
    .option('--dns-search <domain>', 'a DNS search domain for RUN steps (repeatable)', collect, [])
    .option('--add-host <host:ip>', 'an /etc/hosts entry for RUN steps (repeatable)', collect, [])
    .option(
      '-v, --volume <src:dst[:opts]>',
      'bind mount a host directory into every RUN step (repeatable)',
      collect,
      [],
    )
    .option('--cap-add <cap>', 'add a capability to RUN steps (repeatable, or comma separated)', collect, [])
    .option('--cap-drop <cap>', 'drop a capability from RUN steps (repeatable, or comma separated)', collect, [])
    .option(
      '--security-opt <opt>',
      'seccomp=PROFILE.json|unconfined, no-new-privileges for RUN steps (repeatable)',
      collect,
      [],
    )
    .option('--tls-verify [bool]', 'require HTTPS and verify certificates (--tls-verify=false: do not)')
    .option('--authfile <file>', 'the auth file to read registry logins from')
    .option('--creds <user:password>', 'credentials for the registry FROM images come from')
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
    .action(async (contextArg: string | undefined, flags: BuildFlags) => {
      refuseUnsupported(flags);
      const env = process.env;
      // pflag takes these values only as --flag=VALUE: another word after them is the context.
      const positional: string[] = [];
      const argv = process.argv;
      const layers = takeBack(LAYERS, flags.layers, argv);
      const pull = takeBack(PULL, flags.pull, argv);
      const tlsVerify = takeBack(TLS_VERIFY, flags.tlsVerify, argv);
      for (const taken of [layers, pull, tlsVerify])
        if (taken.positional !== undefined) positional.push(taken.positional);
      if (contextArg !== undefined) positional.push(contextArg);
      if (positional.length > 1) {
        throw new HutchError(`accepts at most 1 arg(s), received ${positional.length}`, {
          hint: 'give --layers, --pull and --tls-verify their value with =: --pull=never',
        });
      }
      const limits = limitsFromOptions(flags);
      const squash = { squash: flags.squash === true, squashAll: flags.squashAll === true };
      const options: Omit<BuildOptions, 'stdout' | 'stderr'> = {
        contextDir: positional[0],
        files: flags.file,
        stdin: process.stdin,
        ignoreFile: flags.ignorefile,
        layers: layersOf(layers.value, squash, env),
        tags: flags.tag,
        buildArgs: buildArgs(flags.buildArg, env),
        target: flags.target,
        noCache: !flags.cache,
        cacheFrom: flags.cacheFrom,
        cacheTo: flags.cacheTo,
        pull: pullPolicyOf({
          pull: pull.value,
          pullAlways: flags.pullAlways === true,
          pullNever: flags.pullNever === true,
        }),
        labels: labelsOf(flags.label),
        env: flags.env,
        unsetEnv: splitList(flags.unsetenv),
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
        tlsVerify: tlsVerify.value ?? true,
        authFile: flags.authfile,
        credentials: credentialsOf(flags.creds),
        volumes: flags.volume.map((v) => parseVolumeFlag(v)),
        capAdd: splitList(flags.capAdd),
        capDrop: splitList(flags.capDrop),
        security: parseSecurityOpts(flags.securityOpt),
        secrets: flags.secret,
        limits,
        ulimits: parseUlimits(splitList(flags.ulimit)),
        squash: flags.squashAll === true ? 'all' : flags.squash === true ? 'new' : 'none',
      };
      const log = flags.logfile === undefined ? undefined : openLogfile(flags.logfile);
      const stdout = log ?? process.stdout;
      try {
        const { build } = await import('../verbs/build.js');
        const id = await build({ ...options, stdout, stderr: log ?? process.stderr }, env);
        stdout.write(`${id.replace(/^sha256:/, '')}\n`);
      } finally {
        if (log !== undefined) await closeLogfile(log);
      }
    });
}

export function registerBuild(program: Command): void {
  addBuild(program, 'build');
  const image = program.commands.find((c) => c.name() === 'image');
  if (image !== undefined) addBuild(image, 'build');
  // podman buildx build: the same build; --load is what it always does (the image lands in the store).
  const buildx = program.command('buildx').description('docker buildx compatibility: buildx build is build');
  addBuild(buildx, 'build', (c) =>
    c.addOption(new Option('--load', 'put the image in the store (always done)').hideHelp()),
  );
}
