// The image verbs, as podman spells them: images, tag, rmi, inspect, save,
// load, import, the `image` group (ls, rm, tag, inspect, prune, save, load,
// import) and `system check`. Flags become typed options for src/verbs; what
// comes back is printed here (images-view.ts renders it).
import { createInterface } from 'node:readline';
import { Option, type Command } from 'commander';
import { ExitCode, HutchError } from '../errors.js';

const collect = (value: string, previous: string[]) => [...previous, value];

function addImages(parent: Command, name: string, aliases: string[] = []): void {
  parent
    .command(name)
    .aliases(aliases)
    .description('list images in local storage')
    .argument('[reference]', 'show only images whose name matches')
    .option('-a, --all', 'show all images (intermediate ones too)')
    .option('-q, --quiet', 'print only the image ids')
    .option('--no-trunc', 'do not truncate the image ids')
    .option('--format <format>', 'json, or a Go template ({{.Repository}}, {{.Tag}}, {{.ID}}, {{.Created}}, {{.Size}})')
    .action(
      async (
        reference: string | undefined,
        options: { all?: boolean; quiet?: boolean; trunc: boolean; format?: string },
      ) => {
        const { listImages } = await import('../verbs/images.js');
        const { formatImages } = await import('./images-view.js');
        const { images, damaged } = await listImages({
          all: options.all === true,
          ...(reference === undefined ? {} : { reference }),
        });
        if (damaged > 0) {
          process.stderr.write(`warning: ${damaged} damaged image(s) not listed; run hutch system check --repair\n`);
        }
        process.stdout.write(
          formatImages(images, {
            quiet: options.quiet === true,
            noTrunc: !options.trunc,
            ...(options.format === undefined ? {} : { format: options.format }),
          }),
        );
      },
    );
}

function addTag(parent: Command): void {
  parent
    .command('tag')
    .description('add names to an image')
    .argument('<image>', 'the image (name or id)')
    .argument('<names...>', 'the new names, [REGISTRY/]NAME[:TAG]')
    .action(async (image: string, names: string[]) => {
      const { tagImage } = await import('../verbs/tag.js');
      await tagImage(image, names);
    });
}

function addRmi(parent: Command, name: string, aliases: string[] = []): void {
  parent
    .command(name)
    .aliases(aliases)
    .description('remove images (untag names; delete images left without one)')
    .argument('[images...]', 'images to remove, by name or id')
    .option('-a, --all', 'remove every image')
    .option('-f, --force', 'remove an image given by id even when it has several names, and the containers using it')
    .option('-i, --ignore', 'ignore images that do not exist')
    .action(async (images: string[], options: { all?: boolean; force?: boolean; ignore?: boolean }) => {
      const { rmi } = await import('../verbs/rmi.js');
      const result = await rmi({
        images,
        all: options.all === true,
        force: options.force === true,
        ignore: options.ignore === true,
      });
      for (const line of result.lines) process.stdout.write(`${line}\n`);
      const last = result.errors.at(-1);
      if (last === undefined) return;
      // podman reports every failure; the last one is the command's error.
      for (const error of result.errors.slice(0, -1)) process.stderr.write(`Error: ${error.message}\n`);
      throw new HutchError(last.message, { exitCode: result.exitCode });
    });
}

function addInspect(parent: Command, name: string, description: string): void {
  parent
    .command(name)
    .description(description)
    .argument('<images...>', 'images, by name or id')
    .option('-f, --format <format>', 'json (default), or a Go template such as {{.Id}} or {{.Config.Cmd}}')
    .action(async (images: string[], options: { format?: string }) => {
      const { inspectImages } = await import('../verbs/image-inspect.js');
      const { formatInspect } = await import('../image/images.js');
      process.stdout.write(formatInspect(await inspectImages(images), options.format));
    });
}

/** `hutch inspect`: containers, images or volumes, looked up in that order (podman's --type all). */
function addInspectAny(parent: Command): void {
  parent
    .command('inspect')
    .description('show the configuration of containers, images or volumes, as JSON')
    .argument('<names...>', 'containers, images or volumes, by name or id')
    .option('-f, --format <format>', 'json (default), or a Go template such as {{.Id}} or {{.State.Status}}')
    .option('-t, --type <type>', 'container, image, volume, or all (the first that has the name)', 'all')
    .action(async (names: string[], options: { format?: string; type: string }) => {
      const { printInspect } = await import('./container-tools.js');
      await printInspect(names, options.type, options.format);
    });
}

/** A y/N question on the terminal, as podman asks before pruning. */
async function confirm(question: string): Promise<boolean> {
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

function addPrune(parent: Command): void {
  parent
    .command('prune')
    .description('remove images without a name (with --all: every image no container uses)')
    .option('-a, --all', 'remove every image no container uses, not only nameless ones')
    .option('-f, --force', 'do not ask for confirmation')
    .action(async (options: { all?: boolean; force?: boolean }) => {
      if (options.force !== true) {
        const what =
          options.all === true
            ? 'all images without at least one container associated with them'
            : 'all dangling images';
        const ok = await confirm(`WARNING! This command removes ${what}.\nAre you sure you want to continue? [y/N] `);
        if (!ok) return;
      }
      const { imagePrune } = await import('../verbs/image-prune.js');
      const { hexOf } = await import('../image/digest.js');
      const removed = await imagePrune({ all: options.all === true });
      for (const id of removed) process.stdout.write(`${hexOf(id)}\n`);
    });
}

function addSave(parent: Command): void {
  parent
    .command('save')
    .description('write images to an archive file (docker-archive or oci-archive)')
    .argument('<images...>', 'images, by name or id')
    .requiredOption('-o, --output <file>', 'the archive to write')
    .addOption(
      new Option('--format <format>', 'the archive format')
        .choices(['docker-archive', 'oci-archive'])
        .default('docker-archive'),
    )
    .option('-m, --multi-image-archive', 'accepted for podman compatibility: archives always hold every image given')
    .option('-q, --quiet', 'print nothing')
    .action(async (images: string[], options: { output: string; format: 'docker-archive' | 'oci-archive' }) => {
      const { save } = await import('../verbs/save.js');
      await save({ images, output: options.output, format: options.format });
    });
}

function addLoad(parent: Command): void {
  parent
    .command('load')
    .description('load images from a docker-archive or oci-archive (file or stdin)')
    .option('-i, --input <file>', 'the archive to read (default: stdin)')
    .option('-q, --quiet', 'print nothing but errors')
    .action(async (options: { input?: string; quiet?: boolean }) => {
      if (options.input === undefined && process.stdin.isTTY) {
        throw new HutchError('cannot read from terminal, use command-line redirection or the --input flag');
      }
      const { load } = await import('../verbs/load.js');
      const loaded = await load(options.input === undefined ? { stdin: process.stdin } : { file: options.input });
      if (options.quiet !== true) for (const name of loaded) process.stdout.write(`Loaded image: ${name}\n`);
    });
}

function addImport(parent: Command): void {
  parent
    .command('import')
    .description('create an image from a root file system tar (plain, gzip or zstd)')
    .argument('<file>', 'the tar')
    .argument('[reference]', 'the name to give the image')
    .option('-m, --message <message>', 'the history comment')
    .option(
      '-c, --change <instruction>',
      'apply CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR or STOPSIGNAL',
      collect,
      [],
    )
    .option('-q, --quiet', 'accepted for podman compatibility')
    .action(async (file: string, reference: string | undefined, options: { message?: string; change: string[] }) => {
      const { importTar } = await import('../verbs/import.js');
      const id = await importTar({
        file,
        changes: options.change,
        onWarning: (message) => process.stderr.write(`warning: ${message}\n`),
        ...(reference === undefined ? {} : { reference }),
        ...(options.message === undefined ? {} : { message: options.message }),
      });
      process.stdout.write(`${id}\n`);
    });
}

export function registerImages(program: Command): void {
  addImages(program, 'images');
  addTag(program);
  addRmi(program, 'rmi');
  addInspectAny(program);
  addSave(program);
  addLoad(program);
  addImport(program);

  const image = program.command('image').description('manage images');
  addImages(image, 'ls', ['list']);
  addRmi(image, 'rm');
  addTag(image);
  addInspect(image, 'inspect', 'show the configuration of images, as JSON');
  addPrune(image);
  addSave(image);
  addLoad(image);
  addImport(image);

  const system = program.command('system').description('manage hutch itself');
  system
    .command('check')
    .description('verify the image store; with --repair, remove what is broken')
    .option('-r, --repair', 'remove what is broken (images whose content is missing, corrupt blobs, leftovers)')
    .action(async (options: { repair?: boolean }) => {
      const { checkImages } = await import('../verbs/system-check.js');
      const { formatCheck } = await import('./images-view.js');
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
