/**
 * hutch save and hutch load, through bin/hutch as the unprivileged user:
 * round trips in both formats, archives podman writes and reads, Docker ≥ 25's
 * layout, broken archives, and the Debian round trip (debootstrap's rootfs:
 * many owners, hard links, symlinks) compared field by field.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdtempSync,
  openSync,
  closeSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extract, pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  busyboxRootfsTar,
  debianRootfsTar,
  diffTrees,
  fileSha256,
  readDirTree,
  readTarTree,
} from '../helpers/images.js';
import { fail, hutch, ok, sandbox, storeListing, type Sandbox } from '../helpers/hutch.js';
import { podman as podmanPeer, type Podman } from '../helpers/peers.js';
import { hutchBin, requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

interface ArchiveEntry {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'link';
  body?: Buffer;
  linkname?: string;
}

async function readArchive(path: string): Promise<ArchiveEntry[]> {
  const entries: ArchiveEntry[] = [];
  const parser = extract();
  const feeding = pipeline(createReadStream(path), parser);
  for await (const entry of parser) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    const type = entry.header.type as ArchiveEntry['type'];
    entries.push({
      name: entry.header.name,
      type,
      ...(type === 'file' ? { body: Buffer.concat(chunks) } : {}),
      ...(entry.header.linkname ? { linkname: entry.header.linkname } : {}),
    });
  }
  await feeding;
  return entries;
}

async function writeArchive(path: string, entries: ArchiveEntry[]): Promise<string> {
  const archive = pack();
  const writing = pipeline(archive, createWriteStream(path));
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const header = {
        name: e.name,
        type: e.type,
        mode: e.type === 'directory' ? 0o755 : 0o644,
        ...(e.linkname ? { linkname: e.linkname } : {}),
      };
      const done = (error?: Error | null) => (error ? reject(error) : resolve());
      if (e.body === undefined) archive.entry(header, done);
      else archive.entry(header, e.body, done);
    });
  }
  archive.finalize();
  await writing;
  return path;
}

const json = (entry: ArchiveEntry | undefined): unknown => JSON.parse((entry?.body as Buffer).toString('utf8'));

describe.skipIf(need.skip)('hutch save and load', () => {
  let box: Sandbox;
  let work: string;
  let storage: string;
  let rootfs: string;
  let diffHex: string;
  let id: string;
  let peer: Podman;
  const podman = (args: string[]) => peer.run(args);

  beforeAll(async () => {
    box = sandbox();
    storage = join(box.env.XDG_DATA_HOME as string, 'hutch');
    work = mkdtempSync(join(tmpdir(), 'hutch-archive-'));
    peer = podmanPeer(box.env);
    rootfs = await busyboxRootfsTar();
    diffHex = fileSha256(rootfs);
    id = ok(['import', rootfs, 'busybox'], box).trim();
  });
  afterAll(() => {
    peer.dispose();
    box.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it('docker-archive: what docker save writes; save, rmi, load gives the same image', async () => {
    const file = join(work, 'docker.tar');
    expect(ok(['save', '-o', file, 'busybox'], box)).toBe('');
    expect(existsSync(`${file}.tmp`)).toBe(false);
    const entries = await readArchive(file);
    const names = entries.map((e) => e.name);
    expect(names).toContain(`${id.slice(7)}.json`);
    expect(names).toContain(`${diffHex}.tar`);
    expect(json(entries.find((e) => e.name === 'manifest.json'))).toEqual([
      { Config: `${id.slice(7)}.json`, RepoTags: ['localhost/busybox:latest'], Layers: [`${diffHex}.tar`] },
    ]);
    expect(Object.keys(json(entries.find((e) => e.name === 'repositories')) as object)).toEqual(['localhost/busybox']);
    expect(
      createHash('sha256')
        .update(entries.find((e) => e.name === `${diffHex}.tar`)?.body ?? Buffer.alloc(0))
        .digest('hex'),
    ).toBe(diffHex);
    ok(['rmi', 'busybox'], box);
    expect(storeListing(storage)).toEqual([]);
    expect(ok(['load', '-i', file], box)).toBe('Loaded image: localhost/busybox:latest\n');
    expect(ok(['images', '-q', '--no-trunc'], box)).toBe(`${id}\n`);
    expect(
      diffTrees(await readTarTree(rootfs), readDirTree(join(storage, 'layers', diffHex, 'diff'), box.env)),
    ).toEqual([]);
    expect(ok(['system', 'check'], box)).toBe('the store is consistent\n');
  });

  it('oci-archive: an OCI layout with ref names; save, rmi, load gives the same image', async () => {
    const file = join(work, 'oci.tar');
    ok(['save', '--format', 'oci-archive', '-o', file, 'busybox'], box);
    const entries = await readArchive(file);
    expect(json(entries.find((e) => e.name === 'oci-layout'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const index = json(entries.find((e) => e.name === 'index.json')) as {
      manifests: { annotations: Record<string, string> }[];
    };
    expect(index.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name'])).toEqual([
      'localhost/busybox:latest',
    ]);
    const skopeo = spawnSync('skopeo', ['inspect', `oci-archive:${file}:localhost/busybox:latest`], {
      encoding: 'utf8',
    });
    expect(skopeo.status, skopeo.stderr).toBe(0);
    ok(['rmi', 'busybox'], box);
    expect(ok(['load', '-i', file], box)).toBe('Loaded image: localhost/busybox:latest\n');
    expect(ok(['images', '-q', '--no-trunc'], box)).toBe(`${id}\n`);
    expect(ok(['system', 'check'], box)).toBe('the store is consistent\n');
  });

  it('load reads stdin; an image saved by id loads nameless', () => {
    const file = join(work, 'byid.tar');
    ok(['save', '-o', file, id.slice(7, 19)], box);
    ok(['rmi', 'busybox'], box);
    const fd = openSync(file, 'r');
    const result = spawnSync(hutchBin, ['load'], { env: box.env, stdio: [fd, 'pipe', 'pipe'], encoding: 'utf8' });
    closeSync(fd);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toBe(`Loaded image: ${id}\n`);
    expect(ok(['images', '--format', '{{.Repository}} {{.Tag}} {{.ID}}'], box)).toBe(
      `<none> <none> ${id.slice(7, 19)}\n`,
    );
    ok(['tag', id, 'busybox'], box);
  });

  it('load takes a gzip-compressed archive', () => {
    const gz = join(work, 'docker.tar.gz');
    expect(spawnSync('sh', ['-c', `gzip -c '${join(work, 'docker.tar')}' > '${gz}'`]).status).toBe(0);
    ok(['rmi', 'busybox'], box);
    expect(ok(['load', '-i', gz], box)).toBe('Loaded image: localhost/busybox:latest\n');
    expect(ok(['images', '-q', '--no-trunc'], box)).toBe(`${id}\n`);
  });

  it('podman loads what hutch saves, in both formats', () => {
    for (const [format, file] of [
      ['docker-archive', join(work, 'for-podman-docker.tar')],
      ['oci-archive', join(work, 'for-podman-oci.tar')],
    ] as const) {
      ok(['save', '--format', format, '-o', file, 'busybox'], box);
      const loaded = podman(['load', '-i', file]);
      expect(loaded.status, loaded.stderr).toBe(0);
      expect(loaded.stdout).toContain('Loaded image: localhost/busybox:latest');
      const seen = podman(['image', 'inspect', '--format', '{{.Id}}', 'localhost/busybox:latest']);
      expect(seen.stdout.trim(), format).toBe(id.slice(7));
      expect(podman(['rmi', '-f', 'localhost/busybox:latest']).status).toBe(0);
    }
  });

  it('hutch loads what podman saves, in both formats', async () => {
    const imported = podman(['import', rootfs, 'localhost/pbox:1']);
    expect(imported.status, imported.stderr).toBe(0);
    const podmanId = podman(['image', 'inspect', '--format', '{{.Id}}', 'localhost/pbox:1']).stdout.trim();
    for (const format of ['docker-archive', 'oci-archive']) {
      const file = join(work, `from-podman-${format}.tar`);
      const saved = podman(['save', '--format', format, '-o', file, 'localhost/pbox:1']);
      expect(saved.status, saved.stderr).toBe(0);
      expect(ok(['load', '-i', file], box), format).toBe('Loaded image: localhost/pbox:1\n');
      expect(ok(['images', 'pbox', '-q', '--no-trunc'], box)).toBe(`sha256:${podmanId}\n`);
      expect(ok(['system', 'check'], box)).toBe('the store is consistent\n');
      ok(['rmi', 'localhost/pbox:1'], box);
    }
  });

  it("loads Docker ≥ 25's archives: an OCI layout beside manifest.json, layers compressed", async () => {
    const oci = await readArchive(join(work, 'oci.tar'));
    const index = json(oci.find((e) => e.name === 'index.json')) as { manifests: { digest: string }[] };
    const manifestEntry = oci.find((e) => e.name === `blobs/sha256/${index.manifests[0]?.digest.slice(7)}`);
    const manifest = json(manifestEntry) as { config: { digest: string }; layers: { digest: string }[] };
    const dockerIndex = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          ...(index.manifests[0] as object),
          annotations: {
            'io.containerd.image.name': 'docker.io/library/busybox:v25',
            'org.opencontainers.image.ref.name': 'v25',
          },
        },
      ],
    };
    const docker25 = [
      ...oci.filter((e) => e.name !== 'index.json'),
      { name: 'index.json', type: 'file' as const, body: Buffer.from(JSON.stringify(dockerIndex)) },
      {
        name: 'manifest.json',
        type: 'file' as const,
        body: Buffer.from(
          JSON.stringify([
            {
              Config: `blobs/sha256/${manifest.config.digest.slice(7)}`,
              RepoTags: ['busybox:v25'],
              Layers: manifest.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`),
            },
          ]),
        ),
      },
    ];
    const file = await writeArchive(join(work, 'docker25.tar'), docker25);
    expect(ok(['load', '-i', file], box)).toBe('Loaded image: docker.io/library/busybox:v25\n');
    expect(ok(['images', 'busybox:v25', '-q', '--no-trunc'], box)).toBe(`${id}\n`);
    // The layer stayed gzip-compressed: the blob is the archive's.
    expect(readdirSync(join(storage, 'oci', 'blobs', 'sha256'))).toContain(manifest.layers[0]?.digest.slice(7));
    ok(['rmi', 'busybox:v25'], box);
  });

  it('refuses broken archives with one line and stores nothing', async () => {
    const before = storeListing(storage);
    const text = join(work, 'not-an-archive.tar');
    writeFileSync(text, 'hello\n'.repeat(200));
    // podman's first words, which scripts (and podman's own tests) match.
    expect(fail(['load', '-i', text], box)).toMatch(
      /^Error: payload does not match any of the supported image formats: not a tar archive: /,
    );
    const piped = hutch(['load'], { env: box.env, input: 'Danger, Will Robinson!! This is a corrupt tarball!\n' });
    expect(piped.status).toBe(125);
    expect(piped.stderr).toMatch(/^Error: payload does not match any of the supported image formats: /);

    const empty = await writeArchive(join(work, 'empty.tar'), [
      { name: 'README', type: 'file', body: Buffer.from('hi') },
    ]);
    expect(fail(['load', '-i', empty], box)).toBe(
      'Error: payload does not match any of the supported image formats: it has neither manifest.json (docker-archive) nor index.json (oci-archive)',
    );

    const docker = await readArchive(join(work, 'docker.tar'));
    const flipped = docker.map((e) => {
      if (e.name !== `${diffHex}.tar` || e.body === undefined) return e;
      const body = Buffer.from(e.body);
      body[600] = (body[600] as number) ^ 0x01;
      return { ...e, body };
    });
    ok(['rmi', 'busybox'], box);
    const emptied = storeListing(storage);
    const corrupt = await writeArchive(join(work, 'corrupt.tar'), flipped);
    expect(fail(['load', '-i', corrupt], box)).toMatch(
      new RegExp(
        `^Error: load ${corrupt}: layer ${diffHex}\\.tar: content does not match its digest \\(expected sha256:${diffHex}, got sha256:[a-f0-9]{64}\\)$`,
      ),
    );
    expect(storeListing(storage)).toEqual(emptied);

    const missing = await writeArchive(
      join(work, 'missing.tar'),
      docker.filter((e) => e.name !== `${diffHex}.tar`),
    );
    expect(fail(['load', '-i', missing], box)).toBe(
      `Error: load ${missing}: the archive has no layer "${diffHex}.tar"`,
    );
    expect(storeListing(storage)).toEqual(emptied);
    expect(ok(['system', 'check'], box)).toBe('the store is consistent\n');
    expect(fail(['save', '-o', join(work, 'never.tar'), 'nosuch'], box)).toBe('Error: nosuch: image not known');
    expect(existsSync(join(work, 'never.tar'))).toBe(false);
    expect(existsSync(join(work, 'never.tar.tmp'))).toBe(false);
    ok(['load', '-i', join(work, 'docker.tar')], box);
    expect(before.length).toBeGreaterThan(0);
  });
});

describe.skipIf(need.skip)('the Debian round trip', () => {
  let box: Sandbox;
  let work: string;
  beforeAll(() => {
    box = sandbox();
    work = mkdtempSync(join(tmpdir(), 'hutch-debian-'));
  });
  afterAll(() => {
    box.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it(
    'import a debootstrap rootfs, save, rmi, load: the unpacked tree is the source tar, field by field',
    async () => {
      let started = Date.now();
      const rootfs = debianRootfsTar(box.env);
      console.log(`debian rootfs tar (cached after the first run): ${Date.now() - started} ms`);
      const storage = join(box.env.XDG_DATA_HOME as string, 'hutch');
      const diffHex = fileSha256(rootfs);
      const tree = await readTarTree(rootfs);

      started = Date.now();
      const id = ok(['import', rootfs, 'debian:bookworm'], box).trim();
      console.log(`import: ${Date.now() - started} ms`);
      expect(diffTrees(tree, readDirTree(join(storage, 'layers', diffHex, 'diff'), box.env))).toEqual([]);

      const file = join(work, 'debian.tar');
      started = Date.now();
      ok(['save', '-o', file, 'debian:bookworm'], box);
      console.log(`save: ${Date.now() - started} ms`);
      ok(['rmi', 'debian:bookworm'], box);
      expect(storeListing(storage)).toEqual([]);
      started = Date.now();
      expect(ok(['load', '-i', file], box)).toBe('Loaded image: localhost/debian:bookworm\n');
      console.log(`load: ${Date.now() - started} ms`);
      expect(ok(['images', '-q', '--no-trunc'], box)).toBe(`${id}\n`);
      const problems = diffTrees(tree, readDirTree(join(storage, 'layers', diffHex, 'diff'), box.env));
      expect(problems).toEqual([]);
      expect(tree.size).toBeGreaterThan(5000);
      expect([...tree.values()].some((e) => e.hardlinkOf !== undefined)).toBe(true);
      expect(new Set([...tree.values()].map((e) => e.gid)).size).toBeGreaterThan(2);
      expect(ok(['system', 'check'], box)).toBe('the store is consistent\n');
    },
    15 * 60_000,
  );
});
