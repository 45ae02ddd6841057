// The image verbs, as podman spells them. Each is defined once and mounted
// at the top level and in the `image` group under podman's names (images =
// image list/ls, rmi = image rm, tag, untag, history, save, load, import);
// some live only in the group (image exists, inspect, prune, tree). pull,
// push (registry.ts) and build (build.ts) join the group from their modules.
// Flags become typed options for src/verbs; what comes back is printed here
// (format/ renders it).
import { Writable } from 'node:stream';
import { isatty } from 'node:tty';
import { Option, type Command } from 'commander';
import { ExitCode, HutchError } from '../errors.js';
import { parseBool } from './registry.js';

const collect = (value: string, previous: string[]) => [...previous, value];

/** cobra's StringSlice: each use may hold several values, comma-separated. */
const collectCsv = (value: string, previous: string[]) => [...previous, ...value.split(',').filter((v) => v !== '')];

/** The definition of one verb, mounted under a parent with a name. */
type Define = (parent: Command, name: string) => Command;

const defineImages: Define = (parent, name) =>
  parent
    .command(name)
    .description('list images in local storage')
    .argument('[image]', 'show only images this reference (a glob such as app or localhost/*) matches')
    .option('-a, --all', 'show all images (intermediate ones too)')
    .option('--digests', 'show digests')
    .option('-f, --filter <key=value>', 'filter output based on conditions provided (repeatable)', collectCsv, [])
    .option('--format <format>', 'json, or a Go template ({{.Repository}}, {{.Tag}}, {{.ID}}…); table … for a table')
    .option('--history', 'display the image name history')
    .option('--no-trunc', 'do not truncate output')
    .option('-n, --noheading', 'do not print column headings')
    .option('-q, --quiet', 'display only image IDs')
    .option('--sort <key>', 'sort by created, id, repository, size or tag', 'created')
    .action(
      async (
        reference: string | undefined,
        options: {
          all?: boolean;
          digests?: boolean;
          filter: string[];
          format?: string;
          history?: boolean;
          trunc: boolean;
          noheading?: boolean;
          quiet?: boolean;
          sort: string;
        },
      ) => {
        const { listImages } = await import('../verbs/images.js');
        const { formatImages, IMAGE_SORT_KEYS } = await import('./format/images.js');
        const sort = IMAGE_SORT_KEYS.find((k) => k === options.sort);
        if (sort === undefined) {
          throw new HutchError(
            `"${options.sort}" is not a valid field for sorting. Choose from: ${IMAGE_SORT_KEYS.join(', ')}`,
          );
        }
        const { images, damaged } = await listImages({
          all: options.all === true,
          filters: options.filter,
          ...(reference === undefined ? {} : { reference }),
        });
        if (damaged > 0) {
          process.stderr.write(`warning: ${damaged} damaged image(s) not listed; run hutch system check --repair\n`);
        }
        process.stdout.write(
          formatImages(images, {
            quiet: options.quiet === true,
            noTrunc: !options.trunc,
            noHeading: options.noheading === true,
            digests: options.digests === true,
            history: options.history === true,
            sort,
            ...(options.format === undefined ? {} : { format: options.format }),
          }),
        );
      },
    );

const defineTag: Define = (parent, name) =>
  parent
    .command(name)
    .description('add names to an image')
    .argument('<image>', 'the image (name or id)')
    .argument('<names...>', 'the new names, [REGISTRY/]NAME[:TAG]')
    .action(async (image: string, names: string[]) => {
      const { tagImage } = await import('../verbs/tag.js');
      await tagImage(image, names);
    });

const defineUntag: Define = (parent, name) =>
  parent
    .command(name)
    .description('remove names from an image (every name when none is given)')
    .argument('<image>', 'the image (name or id)')
    .argument('[names...]', 'the names to remove, [REGISTRY/]NAME[:TAG]')
    .action(async (image: string, names: string[]) => {
      const { untagImage } = await import('../verbs/untag.js');
      await untagImage(image, names);
    });

const defineRmi: Define = (parent, name) =>
  parent
    .command(name)
    .description('remove images (untag names; delete images left without one)')
    .argument('[images...]', 'images to remove, by name or id')
    .option('-a, --all', 'remove every image')
    .option('-f, --force', 'remove an image used by containers (and them), or given by id with several names')
    .option('-i, --ignore', 'ignore images that do not exist')
    .action(async (images: string[], options: { all?: boolean; force?: boolean; ignore?: boolean }) => {
      const { combinedMessage, rmi } = await import('../verbs/rmi.js');
      const result = await rmi({
        images,
        all: options.all === true,
        force: options.force === true,
        ignore: options.ignore === true,
      });
      for (const line of result.lines) process.stdout.write(`${line}\n`);
      if (result.errors.length === 0) return;
      throw new HutchError(combinedMessage(result.errors), { exitCode: result.exitCode });
    });

const defineHistory: Define = (parent, name) =>
  parent
    .command(name)
    .description("show an image's history: the steps that made it, newest first")
    .argument('<image>', 'the image (name or id)')
    .option(
      '--format <format>',
      'json, or a Go template ({{.ID}}, {{.Created}}, {{.CreatedBy}}, {{.Size}}, {{.Comment}})',
    )
    .option('-H, --human [bool]', 'sizes and dates for people (--human=false: RFC 3339 times)', humanFlag, true)
    .option('--no-trunc', 'do not truncate the output')
    .option('-q, --quiet', 'print only the ids')
    .action(async (image: string, options: { format?: string; human: boolean; trunc: boolean; quiet?: boolean }) => {
      const { imageHistory } = await import('../verbs/history.js');
      const { formatHistory } = await import('./format/history.js');
      process.stdout.write(
        formatHistory(await imageHistory(image), {
          human: options.human,
          noTrunc: !options.trunc,
          quiet: options.quiet === true,
          ...(options.format === undefined ? {} : { format: options.format }),
        }),
      );
    });

/** podman's -H=false as well as --human=false. */
function humanFlag(value: string | boolean | undefined): boolean {
  return parseBool('--human')(typeof value === 'string' ? value.replace(/^=/, '') : value);
}

const defineImageInspect: Define = (parent, name) =>
  parent
    .command(name)
    .description('show the configuration of images, as JSON')
    .argument('<images...>', 'images, by name or id')
    .option('-f, --format <format>', 'json (default), or a Go template such as {{.Id}} or {{.Config.Cmd}}')
    .action(async (images: string[], options: { format?: string }) => {
      const { inspectImages } = await import('../verbs/image-inspect.js');
      const { formatInspect } = await import('./format/template.js');
      process.stdout.write(formatInspect(await inspectImages(images), options.format));
    });

/** `hutch inspect`: containers, images or volumes, looked up in that order (podman's --type all). */
const defineInspectAny: Define = (parent, name) =>
  parent
    .command(name)
    .description('show the configuration of containers, images or volumes, as JSON')
    .argument('<names...>', 'containers, images or volumes, by name or id')
    .option('-f, --format <format>', 'json (default), or a Go template such as {{.Id}} or {{.State.Status}}')
    .option('-t, --type <type>', 'container, image, volume, or all (the first that has the name)', 'all')
    .action(async (names: string[], options: { format?: string; type: string }) => {
      const { printInspect } = await import('./container-tools.js');
      await printInspect(names, options.type, options.format);
    });

const defineExists: Define = (parent, name) =>
  parent
    .command(name)
    .description('exit 0 when the image is in local storage, 1 when it is not (prints nothing)')
    .argument('<image>', 'the image (name or id)')
    .action(async (image: string) => {
      const { imageExists } = await import('../verbs/image-exists.js');
      if (!(await imageExists(image))) process.exitCode = 1;
    });

const definePrune: Define = (parent, name) =>
  parent
    .command(name)
    .description('remove dangling images (with --all: every image no container uses)')
    .option('-a, --all', 'remove every image no container uses, not only dangling ones')
    .option('--external', 'accepted for podman compatibility: hutch has no external (build) containers')
    .option('--filter <key=value>', 'only images matching (label=…, until=…; repeatable)', collect, [])
    .option('-f, --force', 'do not ask for confirmation')
    .action(async (options: { all?: boolean; filter: string[]; force?: boolean }) => {
      if (options.force !== true) {
        const what =
          options.all === true
            ? 'all images without at least one container associated with them'
            : 'all dangling images';
        const { askYesNo } = await import('./prompt.js');
        const ok = await askYesNo(`WARNING! This command removes ${what}.\nAre you sure you want to continue? [y/N] `);
        if (!ok) return;
      }
      const { imagePrune } = await import('../verbs/image-prune.js');
      const { hexOf } = await import('../image/digest.js');
      const removed = await imagePrune({ all: options.all === true, filters: options.filter });
      for (const id of removed) process.stdout.write(`${hexOf(id)}\n`);
    });

const defineTree: Define = (parent, name) =>
  parent
    .command(name)
    .description("print an image's layers as a tree")
    .argument('<image>', 'the image (name or id)')
    .option('--whatrequires', 'show the images and layers built on the image instead')
    .action(async (image: string, options: { whatrequires?: boolean }) => {
      const { imageTree } = await import('../verbs/image-tree.js');
      const { formatImageTree } = await import('./format/image-tree.js');
      const whatRequires = options.whatrequires === true;
      process.stdout.write(formatImageTree(await imageTree(image, { whatRequires }), whatRequires));
    });

const defineSave: Define = (parent, name) =>
  parent
    .command(name)
    .description('write images to an archive (docker-archive or oci-archive), a file or stdout')
    .argument('<images...>', 'images, by name or id (without -m: the first, the others more names for it)')
    .option('-o, --output <file>', 'the archive to write (default: stdout, which must not be a terminal)')
    .addOption(
      new Option('--format <format>', 'the archive format')
        .choices(['docker-archive', 'oci-archive'])
        .default('docker-archive'),
    )
    .option('-m, --multi-image-archive', 'every image given goes in (docker-archive only)')
    .option('--uncompressed', 'oci-archive: write the layers uncompressed')
    .option('-q, --quiet', 'print nothing')
    .action(
      async (
        images: string[],
        options: {
          output?: string;
          format: 'docker-archive' | 'oci-archive';
          multiImageArchive?: boolean;
          uncompressed?: boolean;
        },
      ) => {
        if (options.output === undefined && isatty(1)) {
          throw new HutchError('refusing to save to terminal. Use -o flag or redirect', {
            hint: 'give -o FILE, or redirect stdout to a file or a pipe',
          });
        }
        const { save } = await import('../verbs/save.js');
        await save({
          images,
          output: options.output ?? stdoutSink(),
          format: options.format,
          multiImage: options.multiImageArchive === true,
          uncompressed: options.uncompressed === true,
        });
      },
    );

/**
 * stdout for a stream that ends (the archive): each chunk written when the
 * last one is flushed (node copes with a non-blocking pipe), and the end of
 * the archive does not close stdout.
 */
function stdoutSink(): Writable {
  return new Writable({
    write: (chunk: Buffer, _encoding, callback) => process.stdout.write(chunk, (error) => callback(error)),
    final: (callback) => callback(),
  });
}

const defineLoad: Define = (parent, name) =>
  parent
    .command(name)
    .description('load images from a docker-archive or oci-archive (a file, an http(s) URL, or stdin)')
    .option('-i, --input <file>', 'the archive to read, or its URL (default: stdin)')
    .option('-q, --quiet', 'print nothing but errors')
    .action(async (options: { input?: string; quiet?: boolean }) => {
      if (options.input === undefined && process.stdin.isTTY) {
        throw new HutchError('cannot read from terminal, use command-line redirection or the --input flag');
      }
      const { load } = await import('../verbs/load.js');
      const input = options.input;
      const loaded = await load(
        input === undefined ? { stdin: process.stdin } : /^https?:\/\//.test(input) ? { url: input } : { file: input },
      );
      if (options.quiet !== true)
        for (const loadedName of loaded) process.stdout.write(`Loaded image: ${loadedName}\n`);
    });

const defineImport: Define = (parent, name) =>
  parent
    .command(name)
    .description('create an image from a root file system tar (plain, gzip or zstd)')
    .argument('<file>', 'the tar (- for stdin)')
    .argument('[reference]', 'the name to give the image')
    .option('-m, --message <message>', 'the history comment')
    .option(
      '-c, --change <instruction>',
      'apply CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR or STOPSIGNAL',
      collect,
      [],
    )
    .option('-q, --quiet', 'print only the image id (hutch prints nothing else)')
    .action(async (file: string, reference: string | undefined, options: { message?: string; change: string[] }) => {
      if (file === '-' && process.stdin.isTTY) {
        throw new HutchError('cannot read from terminal, use command-line redirection', {
          hint: 'hutch import - < rootfs.tar',
        });
      }
      const { importTar } = await import('../verbs/import.js');
      const id = await importTar({
        ...(file === '-' ? { stream: process.stdin } : { file }),
        changes: options.change,
        onWarning: (message) => process.stderr.write(`warning: ${message}\n`),
        ...(reference === undefined ? {} : { reference }),
        ...(options.message === undefined ? {} : { message: options.message }),
      });
      process.stdout.write(`${id}\n`);
    });

/** [top-level name or undefined, name in the image group or undefined, aliases in the group, definition]. */
const IMAGE_VERBS: [string | undefined, string | undefined, string[], Define][] = [
  ['images', 'list', ['ls'], defineImages],
  ['tag', 'tag', [], defineTag],
  ['untag', 'untag', [], defineUntag],
  ['rmi', 'rm', [], defineRmi],
  ['history', 'history', [], defineHistory],
  ['save', 'save', [], defineSave],
  ['load', 'load', [], defineLoad],
  ['import', 'import', [], defineImport],
  ['inspect', undefined, [], defineInspectAny],
  [undefined, 'inspect', [], defineImageInspect],
  [undefined, 'exists', [], defineExists],
  [undefined, 'prune', [], definePrune],
  [undefined, 'tree', [], defineTree],
];

export function registerImages(program: Command): void {
  const image = program.command('image').description('manage images');
  for (const [top, inGroup, aliases, define] of IMAGE_VERBS) {
    if (top !== undefined) define(program, top);
    if (inGroup !== undefined) define(image, inGroup).aliases(aliases);
  }
  registerSystemCheck(program);
}

/** `system check` (the rest of `system` is system.ts's). */
function registerSystemCheck(program: Command): void {
  const system =
    program.commands.find((c) => c.name() === 'system') ?? program.command('system').description('manage hutch itself');
  system
    .command('check')
    .description('verify the image store; with --repair, remove what is broken')
    .option('-r, --repair', 'remove what is broken (images whose content is missing, corrupt blobs, leftovers)')
    .action(async (options: { repair?: boolean }) => {
      const { checkImages } = await import('../verbs/system-check.js');
      const { formatCheck } = await import('./format/images.js');
      const report = await checkImages({ repair: options.repair === true });
      process.stdout.write(formatCheck(report));
      if (!report.consistent) {
        throw new HutchError(
          `the store has ${report.findings.filter((f) => f.repaired === undefined).length} problem(s)`,
          { hint: options.repair === true ? undefined : 'run hutch system check --repair', exitCode: ExitCode.Error },
        );
      }
    });
}
