// pull, push and artifact: the verbs that talk to registries.
import type { Command } from 'commander';
import { HutchError } from '../errors.js';
import type { ProgressMode } from '../image/progress.js';
import type { RegistryAccess } from '../verbs/pull.js';

/** podman spells it --tls-verify=false; a bare --tls-verify means true. */
export function parseBool(flag: string): (value: string | boolean | undefined) => boolean {
  return (value) => {
    if (value === undefined || value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    throw new HutchError(`invalid value for ${flag}: ${JSON.stringify(value)}`, { hint: 'use true or false' });
  };
}

async function progressFor(
  quiet: boolean,
): Promise<{ mode: ProgressMode; make: () => import('../image/progress.js').Progress }> {
  const { createProgress, progressMode } = await import('../image/progress.js');
  const mode = progressMode(process.stderr, quiet);
  return { mode, make: () => createProgress(mode, process.stderr) };
}

interface AccessFlags {
  tlsVerify: boolean;
  creds?: string;
  authfile?: string;
}

/** The flags every registry verb takes, as podman spells them. */
function withAccess(command: Command): Command {
  return command
    .option('--tls-verify [bool]', 'require HTTPS and verify certificates', parseBool('--tls-verify'), true)
    .option('--creds <user:password>', 'credentials for the registry (default: those of hutch login)')
    .option('--authfile <file>', 'the auth file to read logins from');
}

function access(flags: AccessFlags): RegistryAccess {
  let credentials: RegistryAccess['credentials'];
  if (flags.creds !== undefined) {
    const colon = flags.creds.indexOf(':');
    if (colon <= 0) throw new HutchError('invalid --creds', { hint: 'write --creds USER:PASSWORD' });
    credentials = { username: flags.creds.slice(0, colon), password: flags.creds.slice(colon + 1) };
  }
  return { tlsVerify: flags.tlsVerify, credentials, authFile: flags.authfile };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseSize(value: string): number {
  const match = /^(\d+)([kKmMgG]?)i?[bB]?$/.exec(value);
  if (match === null)
    throw new HutchError(`invalid size ${JSON.stringify(value)}`, { hint: 'e.g. 5242880, 5M or 512K' });
  const factor = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(match[2] as string).toLowerCase()] ?? 1;
  return Number(match[1]) * factor;
}

export function registerRegistryVerbs(program: Command): void {
  // pull and push are image verbs too: `hutch image pull` (registered after registerImages).
  const image = program.commands.find((c) => c.name() === 'image');
  for (const parent of image === undefined ? [program] : [program, image]) addPullPush(parent);
  addArtifact(program);
}

function addPullPush(program: Command): void {
  withAccess(program.command('pull'))
    .description('pull an image from a registry into the store')
    .argument('<image>', 'the image: [REGISTRY[:PORT]/]NAME[:TAG|@DIGEST]')
    .option('--platform <os/arch[/variant]>', 'the platform to pull from an image index')
    .option('-q, --quiet', 'print only the image id')
    .action(async (image: string, options: AccessFlags & { platform?: string; quiet?: boolean }) => {
      const { pull } = await import('../verbs/pull.js');
      const progress = await progressFor(options.quiet === true);
      const result = await pull({
        reference: image,
        ...access(options),
        platform: options.platform,
        progress: progress.make(),
      });
      process.stdout.write(`${result.id.slice('sha256:'.length)}\n`);
    });

  withAccess(program.command('push'))
    .description('push an image from the store to a registry')
    .argument('<image>', 'the image in the store: name or id')
    .argument('[destination]', 'where to: [REGISTRY[:PORT]/]NAME[:TAG] (default: the image name)')
    .option('--compression-format <format>', 'gzip or zstd (default: as stored)')
    .option('-f, --format <format>', 'manifest type: oci or v2s2 (Docker)')
    .option('--chunk-size <size>', 'upload blobs in chunks of this size (e.g. 5M)')
    .option('--digestfile <file>', 'write the manifest digest to this file')
    .option('-q, --quiet', 'no progress output')
    .action(
      async (
        image: string,
        destination: string | undefined,
        options: AccessFlags & {
          compressionFormat?: string;
          format?: string;
          chunkSize?: string;
          digestfile?: string;
          quiet?: boolean;
        },
      ) => {
        const compression = options.compressionFormat;
        if (compression !== undefined && compression !== 'gzip' && compression !== 'zstd') {
          throw new HutchError(`unsupported --compression-format ${compression}`, { hint: 'use gzip or zstd' });
        }
        const format = options.format;
        if (format !== undefined && !['oci', 'v2s2', 'docker'].includes(format)) {
          throw new HutchError(`unsupported --format ${format}`, { hint: 'use oci or v2s2' });
        }
        const { push } = await import('../verbs/push.js');
        const progress = await progressFor(options.quiet === true);
        await push({
          source: image,
          destination,
          ...access(options),
          compression,
          format: format === undefined ? undefined : format === 'oci' ? 'oci' : 'docker',
          chunkSize: options.chunkSize === undefined ? undefined : parseSize(options.chunkSize),
          progress: progress.make(),
          digestFile: options.digestfile,
        });
      },
    );
}

function addArtifact(program: Command): void {
  const artifact = program.command('artifact').description('push and pull OCI artifacts (any files) with a registry');
  withAccess(artifact.command('push'))
    .description('push files as an OCI artifact')
    .argument('<reference>', 'where to: [REGISTRY[:PORT]/]NAME[:TAG]')
    .argument('<files...>', 'the files; FILE:MEDIATYPE sets a media type')
    .option('--artifact-type <type>', 'the artifactType of the manifest')
    .option('--annotation <key=value>', 'an annotation of the manifest (repeatable)', collect, [])
    .option('--subject <tag|digest>', 'a manifest of the same repository this artifact refers to')
    .option('-q, --quiet', 'print only the digest')
    .action(
      async (
        reference: string,
        files: string[],
        options: AccessFlags & { artifactType?: string; annotation: string[]; subject?: string; quiet?: boolean },
      ) => {
        const annotations: Record<string, string> = {};
        for (const pair of options.annotation) {
          const eq = pair.indexOf('=');
          if (eq <= 0)
            throw new HutchError(`invalid --annotation ${JSON.stringify(pair)}`, { hint: 'write KEY=VALUE' });
          annotations[pair.slice(0, eq)] = pair.slice(eq + 1);
        }
        const { pushArtifact } = await import('../verbs/artifact.js');
        const progress = await progressFor(options.quiet === true);
        const digest = await pushArtifact({
          reference,
          files: files.map((f) => {
            const colon = f.lastIndexOf(':');
            return colon > 0 && f.slice(colon + 1).includes('/')
              ? { path: f.slice(0, colon), mediaType: f.slice(colon + 1) }
              : { path: f, mediaType: undefined };
          }),
          artifactType: options.artifactType,
          annotations,
          subject: options.subject,
          ...access(options),
          progress: progress.make(),
        });
        process.stdout.write(`${digest}\n`);
      },
    );
  withAccess(artifact.command('pull'))
    .description('pull the files of an OCI artifact into a directory')
    .argument('<reference>', '[REGISTRY[:PORT]/]NAME[:TAG|@DIGEST]')
    .option('-o, --output <dir>', 'the directory to write the files to', '.')
    .option('-q, --quiet', 'no progress output')
    .action(async (reference: string, options: AccessFlags & { output: string; quiet?: boolean }) => {
      const { pullArtifact } = await import('../verbs/artifact.js');
      const progress = await progressFor(options.quiet === true);
      const files = await pullArtifact({
        reference,
        output: options.output,
        ...access(options),
        progress: progress.make(),
      });
      if (options.quiet !== true) for (const file of files) process.stdout.write(`${file}\n`);
    });
  withAccess(artifact.command('referrers'))
    .description('list the manifests that refer to an image or artifact')
    .argument('<reference>', '[REGISTRY[:PORT]/]NAME[:TAG|@DIGEST]')
    .option('--artifact-type <type>', 'only referrers of this artifactType')
    .option('--format <format>', 'json (default: a table)')
    .action(async (reference: string, options: AccessFlags & { artifactType?: string; format?: string }) => {
      if (options.format !== undefined && options.format !== 'json') {
        throw new HutchError(`unsupported --format ${options.format}`, { hint: 'use json' });
      }
      const { listReferrers } = await import('../verbs/artifact.js');
      const referrers = await listReferrers({
        reference,
        artifactType: options.artifactType,
        ...access(options),
      });
      if (options.format === 'json') {
        process.stdout.write(`${JSON.stringify(referrers, null, 2)}\n`);
        return;
      }
      process.stdout.write('DIGEST                                                                   ARTIFACT TYPE\n');
      for (const r of referrers) process.stdout.write(`${r.digest}  ${r.artifactType ?? ''}\n`);
    });
}
