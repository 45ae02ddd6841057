/**
 * The image store end to end, through bin/hutch as the unprivileged user:
 * import, images, inspect, tag, rmi, image prune, system check, and the store's
 * promises (atomic, shared layers, nothing half-written after a refusal, a
 * kill or a full disk), checked with skopeo and umoci as outside readers.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  createWriteStream,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRootfsTar, diffTrees, fileSha256, readDirTree, readTarTree, subidStarts } from '../helpers/images.js';
import { bytesUnder, waitFor } from '../helpers/faults.js';
import { errorLines, fail, hutch, hutchAsync, ok, sandbox, storeListing, type Sandbox } from '../helpers/hutch.js';
import { requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

interface Entry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  body?: Buffer | string;
  linkname?: string;
  mode?: number;
}

/** A tar of these entries (tar-stream writes names as given, absolute ones too). */
async function writeTar(path: string, entries: Entry[]): Promise<string> {
  const archive = pack();
  const writing = pipeline(archive, createWriteStream(path));
  for (const e of entries) {
    const body = e.body === undefined ? undefined : Buffer.from(e.body);
    await new Promise<void>((resolve, reject) => {
      const header = {
        name: e.name,
        type: e.type ?? 'file',
        mode: e.mode ?? (e.type === 'directory' ? 0o755 : 0o644),
        mtime: new Date(1_700_000_000_000),
        ...(e.linkname === undefined ? {} : { linkname: e.linkname }),
      };
      const done = (error?: Error | null) => (error ? reject(error) : resolve());
      if (body === undefined) archive.entry(header, done);
      else archive.entry(header, body, done);
    });
  }
  archive.finalize();
  await writing;
  return path;
}

/** Removes a sandbox whose store holds files of subordinate ids: from inside the session first. */

describe.skipIf(need.skip)('image store', () => {
  let box: Sandbox;
  let storage: string;
  let rootfs: string;
  let work: string;
  let id: string;

  beforeAll(async () => {
    box = sandbox();
    storage = join(box.env.XDG_DATA_HOME as string, 'hutch');
    rootfs = await busyboxRootfsTar();
    work = mkdtempSync(join(tmpdir(), 'hutch-store-'));
  });
  afterAll(() => {
    box.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it('imports a rootfs tar and prints the image id', () => {
    const started = Date.now();
    const out = ok(
      ['import', '--change', 'CMD ["sh"]', '--message', 'busybox from the fixture', rootfs, 'busybox'],
      box,
    );
    console.log(`import of the busybox rootfs: ${Date.now() - started} ms`);
    expect(out).toMatch(/^sha256:[a-f0-9]{64}\n$/);
    id = out.trim();
  });

  it('images lists it as podman does', () => {
    const lines = ok(['images'], box).split('\n');
    // Columns as podman's tabwriter sets them; CREATED is as wide as its longest age.
    expect(lines[0]).toMatch(/^REPOSITORY {9}TAG {9}IMAGE ID {6}CREATED {2,}SIZE$/);
    expect(lines[1]).toMatch(
      new RegExp(`^localhost/busybox  latest      ${id.slice(7, 19)}  .+ ago +\\d[\\d.]* [kM]?B$`),
    );
    expect(ok(['images', '-q'], box)).toBe(`${id.slice(7, 19)}\n`);
    expect(ok(['images', '-q', '--no-trunc'], box)).toBe(`${id}\n`);
    const json = JSON.parse(ok(['images', '--format', 'json'], box)) as Record<string, unknown>[];
    expect(json).toHaveLength(1);
    expect(json[0]).toMatchObject({
      Id: id.slice(7),
      Names: ['localhost/busybox:latest'],
      Size: lstatSync(rootfs).size,
    });
    expect(ok(['images', 'busybox', '-q'], box)).toBe(`${id.slice(7, 19)}\n`);
    expect(ok(['images', 'other', '-q'], box)).toBe('');
  });

  it('inspect shows its config, its layer (the tar digest) and the change', () => {
    const [image] = JSON.parse(ok(['inspect', 'busybox'], box)) as Record<string, unknown>[];
    expect(image?.Id).toBe(id.slice(7));
    expect(image?.RootFS).toEqual({ Type: 'layers', Layers: [`sha256:${fileSha256(rootfs)}`] });
    expect(image?.Config).toEqual({ Cmd: ['sh'] });
    expect(image?.Comment).toBe('busybox from the fixture');
    expect(image?.Architecture).toBe('amd64');
    expect(image?.RepoTags).toEqual(['localhost/busybox:latest']);
    expect(ok(['image', 'inspect', '--format', '{{.Id}} {{.Config.Cmd}}', id.slice(7, 15)], box)).toBe(
      `${id.slice(7)} [sh]\n`,
    );
    expect(fail(['image', 'inspect', 'nosuch'], box)).toBe('Error: nosuch: image not known');
    // hutch inspect looks for containers, images and volumes (podman's --type all).
    expect(fail(['inspect', 'nosuch'], box)).toBe('Error: inspecting object: no such object: "nosuch"');
  });

  it('skopeo and umoci read the store as an OCI layout', () => {
    const index = JSON.parse(readFileSync(join(storage, 'oci', 'index.json'), 'utf8')) as {
      manifests: { digest: string; annotations: Record<string, string> }[];
    };
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0]?.annotations['org.opencontainers.image.ref.name']).toBe('localhost/busybox:latest');
    const manifest = JSON.parse(
      readFileSync(join(storage, 'oci', 'blobs', 'sha256', (index.manifests[0]?.digest as string).slice(7)), 'utf8'),
    ) as { layers: { digest: string }[] };
    const skopeo = spawnSync('skopeo', ['inspect', `oci:${storage}/oci:localhost/busybox:latest`], {
      encoding: 'utf8',
    });
    expect(skopeo.status, skopeo.stderr).toBe(0);
    const seen = JSON.parse(skopeo.stdout) as { Digest: string; Layers: string[] };
    expect(seen.Digest).toBe(index.manifests[0]?.digest);
    expect(seen.Layers).toEqual(manifest.layers.map((l) => l.digest));
    const umoci = spawnSync('umoci', ['ls', '--layout', join(storage, 'oci')], { encoding: 'utf8' });
    expect(umoci.status, umoci.stderr).toBe(0);
    expect(umoci.stdout).toBe('localhost/busybox:latest\n');
  });

  it('unpacks the layer once, equal to the tar field by field, owners mapped to subordinate ids on disk', async () => {
    const diff = join(storage, 'layers', fileSha256(rootfs), 'diff');
    expect(diffTrees(await readTarTree(rootfs), readDirTree(diff, box.env))).toEqual([]);
    // On disk, outside the namespace: root is the user, 1000 is the subordinate id 1000 stands for.
    const starts = subidStarts();
    expect(lstatSync(join(diff, 'bin', 'busybox')).uid).toBe(process.getuid?.());
    const hello = lstatSync(join(diff, 'home', 'user', 'hello.txt'));
    expect([hello.uid, hello.gid]).toEqual([starts.uid + 999, starts.gid + 999]);
    expect(lstatSync(join(diff, 'etc', 'shadow')).gid).toBe(starts.gid + 41);
  });

  it('imports gzip- and zstd-compressed tars to the same layer', () => {
    const gz = join(work, 'rootfs.tar.gz');
    const zst = join(work, 'rootfs.tar.zst');
    expect(spawnSync('sh', ['-c', `gzip -c '${rootfs}' > '${gz}'`]).status).toBe(0);
    expect(spawnSync('zstd', ['-q', '-o', zst, rootfs]).status).toBe(0);
    for (const [file, tag] of [
      [gz, 'gz'],
      [zst, 'zst'],
    ] as const) {
      ok(['import', file, `compressed:${tag}`], box);
      const [image] = JSON.parse(ok(['inspect', `compressed:${tag}`], box)) as { RootFS: unknown }[];
      expect(image?.RootFS).toEqual({ Type: 'layers', Layers: [`sha256:${fileSha256(rootfs)}`] });
    }
    expect(readdirSync(join(storage, 'layers'))).toEqual([fileSha256(rootfs)]);
    ok(['rmi', 'compressed:gz', 'compressed:zst'], box);
  });

  it('tag adds names; an unknown image or a digest name is refused', () => {
    ok(['tag', 'busybox', 'localhost/foo:1', 'bar'], box);
    expect(ok(['images', '--format', '{{.Repository}}:{{.Tag}}'], box)).toBe(
      'localhost/busybox:latest\nlocalhost/foo:1\nlocalhost/bar:latest\n',
    );
    expect(fail(['tag', 'nosuch', 'x'], box)).toBe('Error: nosuch: image not known');
    expect(fail(['tag', 'busybox', `x@sha256:${'a'.repeat(64)}`], box)).toBe(
      `Error: invalid image name "x@sha256:${'a'.repeat(64)}": tagging with a digest is not supported`,
    );
  });

  it('rmi untags a name of an image that has others, refuses an id with several names, exits 1 for an unknown one', () => {
    expect(ok(['rmi', 'localhost/foo:1'], box)).toBe('Untagged: localhost/foo:1\n');
    expect(fail(['rmi', id.slice(7, 19)], box)).toBe(
      `Error: unable to delete image "${id.slice(7)}" by ID with more than one tag ([localhost/busybox:latest localhost/bar:latest]): please force removal`,
    );
    expect(fail(['rmi', 'nosuch'], box, 1)).toBe('Error: nosuch: image not known');
    expect(ok(['rmi', '-i', 'nosuch'], box)).toBe('');
  });

  it('a name that moves leaves the old image nameless until image prune', () => {
    expect(ok(['rmi', 'bar'], box)).toBe('Untagged: localhost/bar:latest\n');
    const second = ok(['import', rootfs, 'busybox'], box).trim();
    expect(second).not.toBe(id);
    expect(ok(['images', '--format', '{{.Repository}} {{.Tag}} {{.ID}}'], box)).toBe(
      `localhost/busybox latest ${second.slice(7, 19)}\n<none> <none> ${id.slice(7, 19)}\n`,
    );
    // Both images share the one unpacked layer.
    expect(readdirSync(join(storage, 'layers'))).toEqual([fileSha256(rootfs)]);
    expect(ok(['image', 'prune', '-f'], box)).toBe(`${id.slice(7)}\n`);
    expect(ok(['images', '-q', '--no-trunc'], box)).toBe(`${second}\n`);
    expect(ok(['system', 'check'], box)).toBe('the store is consistent\n');
    id = second;
  });

  it('rmi deletes the image and what no image uses any more', () => {
    const out = ok(['rmi', '-f', id], box);
    expect(out).toBe(`Untagged: localhost/busybox:latest\nDeleted: ${id.slice(7)}\n`);
    expect(storeListing(storage)).toEqual([]);
    expect(ok(['images'], box)).toBe('REPOSITORY  TAG         IMAGE ID    CREATED     SIZE\n');
  });

  it('refuses hostile tars with one line, leaving the store as it was and consistent', async () => {
    ok(['import', rootfs, 'keep'], box);
    const before = storeListing(storage);
    const imagesBefore = ok(['images', '--format', '{{.ID}} {{.Repository}} {{.Tag}}'], box);
    const outside = join(work, 'outside');
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(outside, 'secret'), 'secret');
    const cases: [string, Entry[]][] = [
      ['absolute', [{ name: `${outside}/pwned-absolute`, body: 'x' }]],
      [
        'dotdot',
        [
          { name: 'a/', type: 'directory' },
          { name: `a/../../../../../../../../..${outside}/pwned-dotdot`, body: 'x' },
        ],
      ],
      [
        'symlink',
        [
          { name: 'evil', type: 'symlink', linkname: outside },
          { name: 'evil/pwned-symlink', body: 'x' },
        ],
      ],
      ['hardlink', [{ name: 'stolen', type: 'link', linkname: `../../../../../../../..${outside}/secret` }]],
    ];
    for (const [name, entries] of cases) {
      const tar = await writeTar(join(work, `${name}.tar`), entries);
      const line = fail(['import', tar, `evil/${name}`], box);
      expect(line).toMatch(new RegExp(`^Error: import ${tar}: layer entry .*the layer is rejected as unsafe$`));
      expect(storeListing(storage), name).toEqual(before);
    }
    expect(readdirSync(outside)).toEqual(['secret']);
    expect(ok(['images', '--format', '{{.ID}} {{.Repository}} {{.Tag}}'], box)).toBe(imagesBefore);
    expect(ok(['system', 'check'], box)).toBe('the store is consistent\n');
    ok(['rmi', 'keep'], box);
  });

  it('two imports of the same tar at once both succeed, with one layer directory', async () => {
    const run = (name: string) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = hutchAsync(['import', rootfs, name], box);
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c));
        child.stderr.on('data', (c: Buffer) => (stderr += c));
        child.on('close', (status) => resolve({ status, stdout, stderr }));
      });
    const [a, b] = await Promise.all([run('twin-a'), run('twin-b')]);
    expect(a.status, a.stderr).toBe(0);
    expect(b.status, b.stderr).toBe(0);
    expect(readdirSync(join(storage, 'layers'))).toEqual([fileSha256(rootfs)]);
    expect(ok(['images', '--format', '{{.Repository}}'], box).split('\n').sort()).toEqual([
      '',
      'localhost/twin-a',
      'localhost/twin-b',
    ]);
    expect(ok(['system', 'check'], box)).toBe('the store is consistent\n');
    ok(['rmi', '-a'], box);
    expect(storeListing(storage)).toEqual([]);
  });

  it('an import killed with SIGKILL leaves leftovers that system check reports and --repair removes', async () => {
    // Big enough (random, so slow to compress) that the kill lands mid-way.
    const big = join(work, 'big.tar');
    await writeTar(big, [{ name: 'data', body: randomBytes(96 * 1024 * 1024) }]);
    const child = hutchAsync(['import', big, 'killed'], box);
    // Cut once the import has written its first MiB into tmp/ (of about 100).
    await waitFor(
      () => bytesUnder(join(storage, 'tmp')) >= 1 << 20 || child.exitCode !== null,
      () => `tmp/ holds ${bytesUnder(join(storage, 'tmp'))} bytes`,
      20_000,
    );
    expect(child.exitCode, 'the import ended before it was cut').toBeNull();
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('close', resolve));
    expect(readdirSync(join(storage, 'tmp')).length).toBeGreaterThan(0);
    const check = hutch(['system', 'check'], box);
    expect(check.status).toBe(125);
    expect(check.stdout).toMatch(/^leftover tmp\/(blob|layer)-\S+ of an interrupted command$/m);
    expect(errorLines(check.stderr)).toEqual([expect.stringMatching(/^Error: the store has \d+ problem\(s\)$/)]);
    const repair = hutch(['system', 'check', '--repair'], box);
    expect(repair.status, repair.stdout + repair.stderr).toBe(0);
    expect(repair.stdout).toMatch(/^leftover tmp\/\S+ of an interrupted command: removed$/m);
    expect(ok(['system', 'check'], box)).toBe('the store is consistent\n');
    expect(storeListing(storage)).toEqual([]);
    ok(['import', rootfs, 'after-kill'], box);
    expect(ok(['images', '--format', '{{.Repository}}'], box)).toBe('localhost/after-kill\n');
  }, 120_000);

  it('system check finds a corrupted blob; --repair removes the image that needed it', () => {
    const image = JSON.parse(ok(['inspect', 'after-kill'], box)) as { Digest: string }[];
    const manifest = JSON.parse(
      readFileSync(join(storage, 'oci', 'blobs', 'sha256', (image[0]?.Digest as string).slice(7)), 'utf8'),
    ) as { layers: { digest: string }[] };
    const layerBlob = join(storage, 'oci', 'blobs', 'sha256', (manifest.layers[0]?.digest as string).slice(7));
    const fd = openSync(layerBlob, 'r+');
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, 1000);
    byte[0] = (byte[0] as number) ^ 0x01;
    writeSync(fd, byte, 0, 1, 1000);
    closeSync(fd);
    const check = hutch(['system', 'check'], box);
    expect(check.status).toBe(125);
    expect(check.stdout).toContain(`blob ${manifest.layers[0]?.digest} is corrupt (its content hashes to sha256:`);
    expect(check.stdout).toContain(
      `image localhost/after-kill:latest (manifest ${(image[0]?.Digest as string).slice(7, 19)}): layer blob ${manifest.layers[0]?.digest} is corrupt`,
    );
    const repair = hutch(['system', 'check', '--repair'], box);
    expect(repair.status, repair.stdout + repair.stderr).toBe(0);
    expect(repair.stdout).toContain(': removed the image\n');
    expect(ok(['images', '-q'], box)).toBe('');
    expect(ok(['system', 'check'], box)).toBe('the store is consistent\n');
    expect(storeListing(storage)).toEqual([]);
  });

  it('system check stops at a part of the store it cannot read, says which, and removes nothing', () => {
    ok(['import', rootfs, 'behind'], box);
    const before = storeListing(storage);
    // The session's root may read what hutch-ci owns whatever its mode; /root belongs to an id it does not map.
    expect(() => readdirSync('/root')).toThrow(expect.objectContaining({ code: 'EACCES' }));
    const closed = join(storage, 'oci', 'blobs', 'sha512');
    symlinkSync('/root', closed);
    try {
      for (const args of [
        ['system', 'check'],
        ['system', 'check', '--repair'],
      ]) {
        const check = hutch(args, box);
        expect(check.status, check.stdout + check.stderr).toBe(125);
        expect(errorLines(check.stderr)).toEqual([
          `Error: check the store: EACCES: permission denied, scandir '${closed}'`,
        ]);
        expect(check.stderr).toContain(`restore the owner and permissions of oci/blobs/sha512 in ${storage}`);
      }
    } finally {
      rmSync(closed);
    }
    expect(storeListing(storage)).toEqual(before);
    expect(ok(['system', 'check'], box)).toBe('the store is consistent\n');
  });

  it('garbage collection with a build cache it cannot read fails and deletes nothing the cache could name', () => {
    const before = storeListing(storage);
    const cache = join(storage, 'build-cache');
    rmSync(cache, { recursive: true, force: true });
    symlinkSync('/root', cache);
    try {
      const rmi = hutch(['rmi', 'behind'], box);
      expect(rmi.status, rmi.stdout + rmi.stderr).toBe(125);
      expect(errorLines(rmi.stderr)).toEqual([
        `Error: collect unused blobs and layers: EACCES: permission denied, scandir '${cache}'`,
      ]);
      expect(ok(['images', '-q'], box)).toBe('');
      expect(storeListing(storage)).toEqual(before);
    } finally {
      rmSync(cache);
    }
    // Readable again: the next collection removes what no image uses.
    expect(ok(['system', 'check', '--repair'], box)).toMatch(/is not used by any image: removed/);
    expect(storeListing(storage)).toEqual([]);
  });
});

describe.skipIf(need.skip)('image store on a full disk', () => {
  let box: Sandbox;
  let work: string;
  beforeAll(() => {
    box = sandbox();
    work = mkdtempSync(join(tmpdir(), 'hutch-full-'));
  });
  afterAll(() => {
    box.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it('an import that fills the disk fails with one line naming ENOSPC and the storage, and the store stays consistent', async () => {
    const storage = join(box.env.XDG_DATA_HOME as string, 'hutch');
    mkdirSync(storage, { recursive: true });
    // Mounts made in the session stay in its mount namespace, where every later hutch runs.
    ok(['unshare', 'mount', '-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', storage], box);
    const big = await writeTar(join(work, 'big.tar'), [{ name: 'data', body: randomBytes(4 * 1024 * 1024) }]);
    // The reserve off: this is about a write that meets ENOSPC (test/integration/disk-reserve.test.ts stops earlier).
    const line = fail(['import', big, 'toobig'], { env: { ...box.env, HUTCH_DISK_RESERVE: '0' } });
    expect(line).toBe(`Error: import ${big}: ENOSPC: no space left on device, writing to ${storage}`);
    expect(ok(['images', '-q'], box)).toBe('');
    expect(ok(['system', 'check'], box)).toBe('the store is consistent\n');
    expect(
      ok(['unshare', 'sh', '-c', `ls -A ${storage}/tmp ${storage}/layers ${storage}/oci/blobs/sha256`], box),
    ).not.toMatch(/blob-|layer-|[a-f0-9]{64}/);
  });
});
