/**
 * Extraction must not fill the disk (src/image/store/reserve.ts), through
 * bin/hutch as the unprivileged user: a gzip layer of about 300 KiB that
 * inflates to 300 MiB of zeros, built here, comes in by load, import, pull
 * (from Debian's docker-registry on 127.0.0.1) and a build's ADD. With the
 * reserve set so that only 100 MiB may be written (from statfs right before
 * each command), each stops with one line naming the layer, the space left
 * and the reserve, exits 125, and leaves the store as it was (`hutch system
 * check` clean). The same layer succeeds with a small reserve, and a layer
 * that fits succeeds under the tight one.
 *
 * The store sits on a 1 GiB tmpfs of its own, mounted in the suite's session
 * (whose mount namespace every hutch command of the suite joins): the disk of
 * the machine is shared, and its free space moves by hundreds of MiB while a
 * test runs, but this one's moves only with what hutch writes. The test sees
 * it through `hutch unshare` (the host sees the empty directory under it).
 */
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorLines, fail, hutch, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { computeReserve, formatSize } from '../../src/image/store/reserve.js';
import { skopeo } from '../helpers/peers.js';
import { needRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { requires } from '../helpers/requires.js';
import { TarBuilder, ustarHeader } from '../helpers/tar.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');
const needReg = needRegistry();
const skip = need.skip || needReg.skip;

const MiB = 2 ** 20;
/** A size as hutch prints it (formatSize). */
const SIZE = '\\d+(\\.\\d)? (B|KiB|MiB|GiB|TiB)';
const BOMB_BYTES = 300 * MiB;
/** What the tight reserve leaves writable. */
const HEADROOM = 100 * MiB;

interface Layer {
  /** The gzip file. */
  path: string;
  gz: Buffer;
  blobDigest: string;
  diffId: string;
}

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** A gzip layer of one file of `size` zeros, streamed (never 300 MiB in memory), its diff id hashed on the way. */
async function zeroBomb(path: string, size: number): Promise<Layer> {
  const hash = createHash('sha256');
  const zeros = Buffer.alloc(MiB);
  async function* tar() {
    const parts = [ustarHeader({ name: 'zeros', typeflag: '0', size, mode: 0o644 })];
    for (const part of parts) yield part;
    for (let left = size; left > 0; left -= MiB) yield left >= MiB ? zeros : zeros.subarray(0, left);
    yield Buffer.alloc((512 - (size % 512)) % 512);
    yield Buffer.alloc(1024);
  }
  const hashed = Readable.from(tar()).on('data', (chunk: Buffer) => hash.update(chunk));
  await pipeline(hashed, createGzip(), createWriteStream(path));
  const gz = readFileSync(path);
  return { path, gz, blobDigest: sha256(gz), diffId: `sha256:${hash.digest('hex')}` };
}

async function smallLayer(path: string): Promise<Layer> {
  const tar = await new TarBuilder().file('hello', 'a layer that fits\n', { mode: 0o644 }).toBuffer();
  const gz = gzipSync(tar);
  writeFileSync(path, gz);
  return { path, gz, blobDigest: sha256(gz), diffId: sha256(tar) };
}

function configOf(layer: Layer): Buffer {
  return Buffer.from(
    JSON.stringify({
      created: '2023-11-14T22:13:20Z',
      architecture: process.arch === 'x64' ? 'amd64' : process.arch,
      os: 'linux',
      config: { Cmd: ['/zeros'] },
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      history: [{ created: '2023-11-14T22:13:20Z', created_by: 'disk reserve test layer' }],
    }),
  );
}

/** A docker-archive (Docker ≥ 25's names) of a one-layer image tagged `tag`. */
async function dockerArchive(path: string, layer: Layer, tag: string): Promise<void> {
  const config = configOf(layer);
  const hex = (d: string) => d.slice('sha256:'.length);
  const archive = pack();
  const writing = pipeline(archive, createWriteStream(path));
  const manifest = [
    {
      Config: `blobs/sha256/${hex(sha256(config))}`,
      RepoTags: [tag],
      Layers: [`blobs/sha256/${hex(layer.blobDigest)}`],
    },
  ];
  archive.entry({ name: 'manifest.json' }, JSON.stringify(manifest));
  archive.entry({ name: `blobs/sha256/${hex(sha256(config))}` }, config);
  archive.entry({ name: `blobs/sha256/${hex(layer.blobDigest)}` }, layer.gz);
  archive.finalize();
  await writing;
}

/** An OCI layout of a one-layer image, for skopeo to push. */
function ociLayout(dir: string, layer: Layer): void {
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (data: Buffer) => {
    const digest = sha256(data);
    writeFileSync(join(blobs, digest.slice(7)), data);
    return { digest, size: data.length };
  };
  const layerBlob = put(layer.gz);
  const configBlob = put(configOf(layer));
  const manifest = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...configBlob },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layerBlob }],
      }),
    ),
  );
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest }],
    }),
  );
}

describe.skipIf(skip)('the disk reserve: extraction stops before the disk fills', () => {
  let box: Sandbox;
  let storage: string;
  let work: string;
  let registry: TestRegistry;
  let bomb: Layer;
  let small: Layer;

  /** A shell command in the suite's session, where the store's tmpfs is mounted. */
  const inSession = (script: string): string => ok(['unshare', 'sh', '-ec', script], box);

  /** statfs(2) of the store, as hutch sees it: f_bavail × f_bsize, and f_blocks × f_bsize. */
  const statfs = (): { available: number; size: number } => {
    const [available, blockSize, blocks] = inSession(`stat -f -c '%a %S %b' '${storage}'`)
      .trim()
      .split(' ')
      .map(Number);
    return {
      available: (available as number) * (blockSize as number),
      size: (blocks as number) * (blockSize as number),
    };
  };

  /** Free space now minus what the test lets hutch write. */
  const tightEnv = (): NodeJS.ProcessEnv => ({ ...box.env, HUTCH_DISK_RESERVE: String(statfs().available - HEADROOM) });
  const smallEnv = (): NodeJS.ProcessEnv => ({ ...box.env, HUTCH_DISK_RESERVE: '64m' });

  /** What the store holds: blobs, layers, temp files, the build cache, and the index. */
  const snapshot = (): string =>
    inSession(`cd '${storage}' && ls -1A oci/blobs/sha256 layers tmp build-cache && cat oci/index.json`);

  /** Runs under the tight reserve: exit 125, exactly one Error: line and a hint; returns both. */
  const refused = (args: string[]): { line: string; hint: string } => {
    const started = Date.now();
    const result = hutch(args, { env: tightEnv() });
    console.log(`hutch ${args[0]} refused in ${Date.now() - started} ms`);
    expect(result.status, result.stderr).toBe(125);
    const lines = errorLines(result.stderr);
    expect(lines, result.stderr).toHaveLength(1);
    const hints = result.stderr.split('\n').filter((l) => l.startsWith('hint: '));
    expect(hints, result.stderr).toHaveLength(1);
    return { line: lines[0] as string, hint: hints[0] as string };
  };

  const stopped = (diffId: string) =>
    new RegExp(
      `stopped unpacking layer ${diffId} after \\d+(\\.\\d)? MiB: ${SIZE} left on ${storage}, ${SIZE} above the reserve of ${SIZE}$`,
    );
  const hintRe = () =>
    new RegExp(
      `^hint: free space on the file system of ${storage} \\(hutch image prune, hutch rmi\\), ` +
        `or lower HUTCH_DISK_RESERVE \\(now \\d+\\); HUTCH_DISK_RESERVE=0 turns the check off$`,
    );

  const unchangedAndClean = (before: ReturnType<typeof snapshot>) => {
    expect(snapshot()).toEqual(before);
    expect(ok(['system', 'check'], box)).toBe('the store is consistent\n');
  };

  beforeAll(async () => {
    box = sandbox();
    storage = join(box.env.XDG_DATA_HOME as string, 'hutch');
    mkdirSync(storage, { recursive: true });
    inSession(`mount -t tmpfs -o size=1g,mode=0700 hutch-disk-reserve '${storage}'`);
    work = mkdtempSync(join(tmpdir(), 'hutch-disk-'));
    registry = await startRegistry();
    const started = Date.now();
    [bomb, small] = await Promise.all([
      zeroBomb(join(work, 'bomb.tar.gz'), BOMB_BYTES),
      smallLayer(join(work, 'small.tar.gz')),
    ]);
    console.log(`the bomb: ${bomb.gz.length} bytes of gzip, made in ${Date.now() - started} ms`);
    // The store exists (and the build cache directory) before the first snapshot.
    ok(['images'], box);
    inSession(`mkdir -p '${storage}/build-cache'`);
    expect(inSession(`stat -f -c %T '${storage}'`)).toBe('tmpfs\n');
  });
  afterAll(async () => {
    box?.dispose();
    await registry?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('the bomb is small and inflates 1000-fold', () => {
    expect(bomb.gz.length).toBeLessThan(BOMB_BYTES / 500);
  });

  it('hutch info names the reserve in force and where it came from', () => {
    // 5% of 1 GiB: 51.2 MiB.
    const expected = formatSize(computeReserve(undefined, statfs().size));
    expect(expected).toBe('51.2 MiB');
    expect(ok(['info'], box)).toContain(`\n  disk reserve: ${expected} (default: min(5%, 1 GiB))\n`);
    expect(ok(['info'], { env: { ...box.env, HUTCH_DISK_RESERVE: '512m' } })).toMatch(
      /^ {2}disk reserve: 512 MiB \(HUTCH_DISK_RESERVE=512m\)$/m,
    );
  });

  it('load: stops, exit 125, the store unchanged; a small reserve or a layer that fits loads', async () => {
    const bombArchive = join(work, 'bomb-docker.tar');
    const smallArchive = join(work, 'small-docker.tar');
    await dockerArchive(bombArchive, bomb, 'localhost/bomb:load');
    await dockerArchive(smallArchive, small, 'localhost/small:load');
    const before = snapshot();
    const { line, hint } = refused(['load', '-i', bombArchive]);
    expect(line).toMatch(new RegExp(`^Error: load ${bombArchive}: `));
    expect(line).toMatch(stopped(bomb.diffId));
    expect(hint).toMatch(hintRe());
    unchangedAndClean(before);

    expect(ok(['load', '-i', smallArchive], { env: tightEnv() })).toBe('Loaded image: localhost/small:load\n');
    expect(ok(['load', '-i', bombArchive], { env: smallEnv() })).toBe('Loaded image: localhost/bomb:load\n');
    ok(['rmi', 'localhost/bomb:load', 'localhost/small:load'], box);
    unchangedAndClean(before);
  });

  it('import: stops, exit 125, the store unchanged; a small reserve or a layer that fits imports', () => {
    const before = snapshot();
    // Its diff id is known only once all of it is read: it is stopped while it is read, named by its file.
    const { line, hint } = refused(['import', bomb.path, 'localhost/bomb:import']);
    expect(line).toMatch(
      new RegExp(
        `^Error: import ${bomb.path}: stopped before unpacking the layer of ${bomb.path}: ` +
          `it is more than 1\\d\\d(\\.\\d)? MiB, and ${SIZE} left on ${storage}, \\d+(\\.\\d)? MiB above the reserve of ${SIZE}$`,
      ),
    );
    expect(hint).toMatch(hintRe());
    unchangedAndClean(before);

    ok(['import', small.path, 'localhost/small:import'], { env: tightEnv() });
    ok(['import', bomb.path, 'localhost/bomb:import'], { env: smallEnv() });
    ok(['rmi', 'localhost/bomb:import', 'localhost/small:import'], box);
    unchangedAndClean(before);
  });

  it('pull: a blob larger than the room is refused before it downloads; a bomb stops while it unpacks', () => {
    for (const [name, layer] of [
      ['bomb', bomb],
      ['small', small],
    ] as const) {
      const dir = join(work, `oci-${name}`);
      ociLayout(dir, layer);
      const copied = skopeo([
        'copy',
        '--quiet',
        '--dest-tls-verify=false',
        `oci:${dir}`,
        `docker://${registry.host}/${name}:1`,
      ]);
      expect(copied.status, copied.stderr).toBe(0);
    }
    const bombRef = `${registry.host}/bomb:1`;
    const before = snapshot();

    // The declared (compressed) size of the blob, ~300 KiB, does not fit in 100 KiB: nothing is downloaded.
    const noRoom = { ...box.env, HUTCH_DISK_RESERVE: String(statfs().available - 100 * 1024) };
    const declared = fail(['pull', '--tls-verify=false', bombRef], { env: noRoom });
    expect(declared).toMatch(
      new RegExp(
        `^Error: pull ${bombRef}: not enough space for layer ${bomb.blobDigest} \\(\\d+(\\.\\d)? KiB\\): ` +
          `${SIZE} left on ${storage}, \\d+(\\.\\d)? KiB above the reserve of ${SIZE}$`,
      ),
    );
    unchangedAndClean(before);

    const { line, hint } = refused(['pull', '--tls-verify=false', bombRef]);
    expect(line).toMatch(new RegExp(`^Error: pull ${bombRef}: layer ${bomb.blobDigest.slice(7, 19)}: `));
    expect(line).toMatch(stopped(bomb.diffId));
    expect(hint).toMatch(hintRe());
    unchangedAndClean(before);

    ok(['pull', '--tls-verify=false', `${registry.host}/small:1`], { env: tightEnv() });
    ok(['pull', '--tls-verify=false', bombRef], { env: smallEnv() });
    ok(['rmi', bombRef, `${registry.host}/small:1`], box);
    unchangedAndClean(before);
  });

  it('build: ADD of the bomb stops, exit 125, nothing stays; a small reserve or an archive that fits builds', () => {
    const context = join(work, 'context');
    mkdirSync(context);
    writeFileSync(join(context, 'bomb.tar.gz'), bomb.gz);
    writeFileSync(join(context, 'small.tar.gz'), small.gz);
    writeFileSync(join(context, 'Bomb'), 'FROM scratch\nADD bomb.tar.gz /\n');
    writeFileSync(join(context, 'Small'), 'FROM scratch\nADD small.tar.gz /\n');
    const before = snapshot();
    const { line, hint } = refused(['build', '-t', 'localhost/bomb:build', '-f', join(context, 'Bomb'), context]);
    expect(line).toMatch(
      new RegExp(
        `^Error: building at STEP "ADD bomb.tar.gz /": ${join(context, 'Bomb')}:2:1: ADD bomb.tar.gz: stopped unpacking the archive after \\d+(\\.\\d)? MiB: ` +
          `${SIZE} left on ${storage}, ${SIZE} above the reserve of ${SIZE}$`,
      ),
    );
    expect(hint).toMatch(hintRe());
    unchangedAndClean(before);

    ok(['build', '-t', 'localhost/small:build', '-f', join(context, 'Small'), context], { env: tightEnv() });
    ok(['build', '-t', 'localhost/bomb:build', '-f', join(context, 'Bomb'), context], { env: smallEnv() });
    ok(['inspect', 'localhost/bomb:build', 'localhost/small:build'], box);
  });
});
