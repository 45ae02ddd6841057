/**
 * What the image benchmarks need around the drivers: a registry on 127.0.0.1,
 * hutch and podman with stores of their own, and the images (a debootstrap
 * Debian rootfs and a synthetic image of many layers).
 */
/* global setTimeout, fetch */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';

export const repo = new URL('../..', import.meta.url).pathname;
export const hutchBin = join(repo, 'bin', 'hutch');
export const cacheDir = join(process.env.HOME ?? homedir(), '.cache', 'hutch-test');

/** process.env with extra variables; undefined removes one. */
export function envFor(extra = {}) {
  const env = { ...process.env };
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Runs a command to completion; throws with its stderr when it fails. */
export function run(argv, options = {}) {
  const result = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', maxBuffer: 1 << 28, ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`\`${argv.join(' ')}\` exited ${result.status}: ${(result.stderr || '').slice(-2000)}`);
  }
  return result.stdout;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Debian's docker-registry on 127.0.0.1 with storage in a temp dir. restart()
 * empties it (a fresh registry for every push trial).
 */
export async function startRegistry() {
  const dir = mkdtempSync(join(tmpdir(), 'hutch-bench-registry-'));
  const port = await freePort();
  const config = join(dir, 'config.yml');
  let child;
  const up = async () => {
    rmSync(join(dir, 'data'), { recursive: true, force: true });
    writeFileSync(
      config,
      [
        'version: 0.1',
        'log: { level: error, accesslog: { disabled: true } }',
        `storage: { filesystem: { rootdirectory: ${join(dir, 'data')} }, delete: { enabled: true } }`,
        `http: { addr: 127.0.0.1:${port} }`,
        '',
      ].join('\n'),
    );
    child = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
    for (let i = 0; i < 200; i++) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/v2/`);
        if (response.ok) return;
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('docker-registry did not start within 10 s');
  };
  const down = async () => {
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };
  await up();
  return {
    host: `127.0.0.1:${port}`,
    async restart() {
      await down();
      await up();
    },
    async stop() {
      await down();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A hutch with its own session and store under base. */
export function hutchUser(base) {
  const env = envFor({
    XDG_RUNTIME_DIR: join(base, 'run'),
    XDG_DATA_HOME: join(base, 'data'),
    HUTCH_SESSION: undefined,
  });
  mkdirSync(join(base, 'run'), { recursive: true, mode: 0o700 });
  return {
    env,
    storage: join(base, 'data', 'hutch'),
    run: (args) => run([hutchBin, ...args], { env }),
    /** Empties the store (its files belong to subordinate ids: remove them inside the session). */
    wipe: () => run([hutchBin, 'unshare', 'rm', '-rf', join(base, 'data')], { env }),
    dispose() {
      try {
        run([hutchBin, 'unshare', 'rm', '-rf', join(base, 'data')], { env });
        const pid = Number(readFileSync(join(base, 'run', 'hutch', 'session.pid'), 'utf8'));
        process.kill(pid, 'SIGKILL');
      } catch {
        // nothing started
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/**
 * Rootless podman with its own storage and runc (HOST.md: crun refuses this
 * host). The overlay driver is asked for by name: without a storage.conf,
 * Debian's podman 4.3 picks vfs for a rootless user (a full copy of the tree
 * per layer), although native overlay works in a user namespace here.
 */
export function podmanUser(base) {
  const env = envFor({ XDG_RUNTIME_DIR: join(base, 'run') });
  mkdirSync(join(base, 'run'), { recursive: true, mode: 0o700 });
  const flags = [
    '--root',
    join(base, 'root'),
    '--runroot',
    join(base, 'runroot'),
    '--storage-driver',
    'overlay',
    '--runtime',
    'runc',
  ];
  return {
    env,
    argv: (args) => ['podman', ...flags, ...args],
    run: (args) => run(['podman', ...flags, ...args], { env }),
    wipe: () => run(['podman', ...flags, 'rmi', '-a', '-f'], { env }),
    dispose() {
      try {
        run(['podman', ...flags, 'unshare', 'rm', '-rf', join(base, 'root'), join(base, 'runroot')], { env });
      } catch {
        // nothing started, or something still mounted
      }
      // Apart: a removal that failed (a container's mount still busy) left the pause process behind.
      try {
        process.kill(Number(readFileSync(join(base, 'run', 'libpod', 'tmp', 'pause.pid'), 'utf8')), 'SIGKILL');
      } catch {
        // none
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** Rootless buildah with its own storage (overlay, asked for by name as for podmanUser); bud gets --runtime runc. */
export function buildahUser(base) {
  const env = envFor({ XDG_RUNTIME_DIR: join(base, 'run'), BUILDAH_ISOLATION: undefined });
  mkdirSync(join(base, 'run'), { recursive: true, mode: 0o700 });
  const flags = ['--root', join(base, 'root'), '--runroot', join(base, 'runroot'), '--storage-driver', 'overlay'];
  return {
    env,
    argv: (args) => ['buildah', ...flags, ...args],
    run: (args) => run(['buildah', ...flags, ...args], { env }),
    dispose() {
      try {
        run(['buildah', ...flags, 'unshare', 'rm', '-rf', join(base, 'root'), join(base, 'runroot')], { env });
      } catch {
        // nothing started
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** The Debian mirror apt uses here (deb822 sources), for debootstrap. */
function debianMirror() {
  const text = readFileSync('/etc/apt/sources.list.d/debian.sources', 'utf8');
  const match = /^URIs:\s*(\S+)/m.exec(text);
  if (match === null) throw new Error('no URIs: line in /etc/apt/sources.list.d/debian.sources');
  return match[1];
}

/**
 * A debootstrap minbase bookworm rootfs as a tar (about 200 MB), cached in
 * ~/.cache/hutch-test (the tests share it). debootstrap runs as root of a
 * hutch session, with container=lxc so that it does not try mknod.
 */
export function debianRootfsTar(hutch) {
  const tar = join(cacheDir, 'debian-bookworm-minbase.tar');
  if (existsSync(tar)) return tar;
  mkdirSync(cacheDir, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'hutch-bench-debian-'));
  try {
    run(
      [
        hutchBin,
        'unshare',
        'env',
        'container=lxc',
        'debootstrap',
        '--variant=minbase',
        'bookworm',
        join(dir, 'root'),
        debianMirror(),
      ],
      { env: hutch.env },
    );
    run([hutchBin, 'unshare', 'tar', '-C', join(dir, 'root'), '--numeric-owner', '-cf', `${tar}.tmp`, '.'], {
      env: hutch.env,
    });
    run(['mv', `${tar}.tmp`, tar]);
  } finally {
    run([hutchBin, 'unshare', 'rm', '-rf', dir], { env: hutch.env });
  }
  return tar;
}

async function tarOf(files) {
  const archive = pack();
  const chunks = [];
  archive.on('data', (c) => chunks.push(c));
  const done = new Promise((resolve, reject) => {
    archive.on('end', resolve);
    archive.on('error', reject);
  });
  for (const [name, body] of files) archive.entry({ name, mode: 0o644, mtime: new Date(0) }, body);
  archive.finalize();
  await done;
  return Buffer.concat(chunks);
}

const sha256 = (data) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/**
 * An OCI layout with an image of `layers` layers, each `filesPerLayer` random
 * files of `fileSize` bytes (random data: compression cannot shrink it).
 */
export async function syntheticLayout(dir, { layers = 50, filesPerLayer = 8, fileSize = 128 * 1024 } = {}) {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (data) => {
    const digest = sha256(data);
    writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), data);
    return { digest, size: data.length };
  };
  const layerDescriptors = [];
  const diffIds = [];
  for (let i = 0; i < layers; i++) {
    const files = Array.from({ length: filesPerLayer }, (_, f) => [`layer${i}/file${f}`, randomBytes(fileSize)]);
    const tar = await tarOf(files);
    diffIds.push(sha256(tar));
    layerDescriptors.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...put(gzipSync(tar)) });
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: diffIds.map(() => ({ created_by: 'bench' })),
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...put(config) },
      layers: layerDescriptors,
    }),
  );
  const m = put(manifest);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...m,
          annotations: { 'org.opencontainers.image.ref.name': 'synthetic' },
        },
      ],
    }),
  );
  return { bytes: layerDescriptors.reduce((sum, l) => sum + l.size, 0) };
}

export function sizeOf(path) {
  return statSync(path).size;
}
