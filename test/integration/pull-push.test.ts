/**
 * pull and push against a real registry (Debian's docker-registry on
 * 127.0.0.1), as the unprivileged user: round trips that must give back the
 * same files bit for bit, the peers (skopeo, podman) reading what hutch pushes
 * and hutch reading what they push, authentication, and registries that lie.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchImage, startFakeRegistry } from '../helpers/fake-registry.js';
import {
  fail,
  failAsync,
  hutch,
  okAsync,
  hutchAsync,
  ok,
  sandbox,
  storeListing,
  type Sandbox,
} from '../helpers/hutch.js';
import { busyboxRootfsTar, debianRootfsTar, diffTrees, readDirTree, readTarTree } from '../helpers/images.js';
import { podman, skopeo } from '../helpers/peers.js';
import { needRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');
const needReg = needRegistry('htpasswd', 'openssl');
const skip = need.skip || needReg.skip;

interface Inspected {
  Id: string;
  Digest: string;
  RootFS: { Layers: string[] };
}

function inspect(box: Sandbox, image: string): Inspected {
  return (JSON.parse(ok(['inspect', image], box)) as Inspected[])[0] as Inspected;
}

function layerDir(box: Sandbox, diffId: string): string {
  return join(box.env.XDG_DATA_HOME as string, 'hutch', 'layers', diffId.slice('sha256:'.length), 'diff');
}

const tls = '--tls-verify=false';

describe.skipIf(skip)('pull and push', () => {
  let registry: TestRegistry;
  let box: Sandbox;
  let rootfs: string;
  let id: string;
  let name: string;

  beforeAll(async () => {
    registry = await startRegistry();
    box = sandbox();
    rootfs = await busyboxRootfsTar();
    name = `${registry.host}/busybox:1`;
    id = ok(['import', rootfs, name], box).trim();
  });
  afterAll(async () => {
    box.dispose();
    await registry.stop();
  });

  it('round trip: import, push, rmi, pull gives the same image and the same files', async () => {
    const pushed = hutch(['push', tls, name], box);
    expect(pushed.status, pushed.stderr).toBe(0);
    expect(pushed.stderr).toMatch(/Copying blob sha256:[a-f0-9]{64} done/);
    expect(pushed.stderr).toMatch(/Writing manifest to image destination/);
    ok(['rmi', name], box);
    expect(storeListing(join(box.env.XDG_DATA_HOME as string, 'hutch')).filter((e) => e.startsWith('layers/'))).toEqual(
      [],
    );
    const pulled = hutch(['pull', tls, name], box);
    expect(pulled.status, pulled.stderr).toBe(0);
    expect(`sha256:${pulled.stdout.trim()}`).toBe(id);
    const image = inspect(box, name);
    expect(
      diffTrees(await readTarTree(rootfs), readDirTree(layerDir(box, image.RootFS.Layers[0] as string), box.env)),
    ).toEqual([]);
  });

  it('a second pull of an image it has skips every layer', () => {
    const again = hutch(['pull', tls, name], box);
    expect(again.status).toBe(0);
    expect(again.stderr).toMatch(/skipped: already in the store/);
  });

  it('skopeo reads what hutch pushed, and hutch pulls what skopeo pushed', () => {
    const seen = skopeo(['inspect', '--tls-verify=false', `docker://${name}`]);
    expect(seen.status, seen.stderr).toBe(0);
    expect((JSON.parse(seen.stdout) as { Layers: string[] }).Layers).toHaveLength(1);
    const oci = join(box.env.XDG_DATA_HOME as string, 'hutch', 'oci');
    // skopeo reads hutch's store (an OCI layout) inside the session, where its files are readable.
    const copy = hutch(
      [
        'unshare',
        'skopeo',
        'copy',
        '--dest-tls-verify=false',
        `oci:${oci}:${name}`,
        `docker://${registry.host}/from-skopeo:1`,
      ],
      box,
    );
    expect(copy.status, copy.stderr).toBe(0);
    const other = sandbox();
    try {
      const pulled = hutch(['pull', tls, `${registry.host}/from-skopeo:1`], other);
      expect(pulled.status, pulled.stderr).toBe(0);
      expect(`sha256:${pulled.stdout.trim()}`).toBe(id);
    } finally {
      other.dispose();
    }
  });

  it('podman pulls what hutch pushed, and hutch pulls what podman pushed', () => {
    const peer = podman(box.env);
    try {
      const pulled = peer.run(['pull', tls, name]);
      expect(pulled.status, pulled.stderr).toBe(0);
      expect(peer.run(['image', 'inspect', '--format', '{{.Id}}', name]).stdout.trim()).toBe(id.slice(7));
      const imported = peer.run(['import', rootfs, `${registry.host}/from-podman:1`]);
      expect(imported.status, imported.stderr).toBe(0);
      const pushed = peer.run(['push', tls, `${registry.host}/from-podman:1`]);
      expect(pushed.status, pushed.stderr).toBe(0);
      const other = sandbox();
      try {
        const mine = hutch(['pull', tls, `${registry.host}/from-podman:1`], other);
        expect(mine.status, mine.stderr).toBe(0);
        const podmanId = peer
          .run(['image', 'inspect', '--format', '{{.Id}}', `${registry.host}/from-podman:1`])
          .stdout.trim();
        expect(mine.stdout.trim()).toBe(podmanId);
      } finally {
        other.dispose();
      }
    } finally {
      peer.dispose();
    }
  });

  it('push --compression-format zstd: zstd layers that pull back to the same image', () => {
    const target = `${registry.host}/zstd/busybox:1`;
    ok(['push', tls, '--compression-format', 'zstd', name, target], box);
    const raw = skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${target}`]);
    const manifest = JSON.parse(raw.stdout) as { layers: { mediaType: string }[] };
    expect(manifest.layers[0]?.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+zstd');
    const other = sandbox();
    try {
      expect(`sha256:${ok(['pull', tls, target], other).trim()}`).toBe(id);
    } finally {
      other.dispose();
    }
  });

  it('push --format v2s2 writes Docker media types; chunked uploads; cross-repository mounts', () => {
    const docker = `${registry.host}/docker/busybox:1`;
    ok(['push', tls, '--format', 'v2s2', '--chunk-size', '64K', name, docker], box);
    const raw = JSON.parse(skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${docker}`]).stdout) as {
      mediaType: string;
      layers: { mediaType: string }[];
    };
    expect(raw.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(raw.layers[0]?.mediaType).toBe('application/vnd.docker.image.rootfs.diff.tar.gzip');
    const mounted = hutch(['push', tls, name, `${registry.host}/elsewhere/busybox:1`], box);
    expect(mounted.status, mounted.stderr).toBe(0);
    expect(mounted.stderr).toMatch(/skipped: mounted from another repository/);
    const again = hutch(['push', tls, name], box);
    expect(again.stderr).toMatch(/skipped: already exists/);
  });

  it('chooses the platform of an image index, and says which platforms there are', async () => {
    const manifest = await fetch(`${registry.url}/v2/busybox/manifests/1`, {
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    const body = Buffer.from(await manifest.arrayBuffer());
    const digest = manifest.headers.get('docker-content-digest') as string;
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest,
          size: body.length,
          platform: { os: 'linux', architecture: 'riscv64' },
        },
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest,
          size: body.length,
          platform: { os: 'linux', architecture: 'amd64' },
        },
      ],
    };
    const put = await fetch(`${registry.url}/v2/busybox/manifests/multi`, {
      method: 'PUT',
      headers: { 'Content-Type': index.mediaType },
      body: JSON.stringify(index),
    });
    expect(put.status).toBe(201);
    const other = sandbox();
    try {
      if (process.arch === 'x64')
        expect(`sha256:${ok(['pull', tls, `${registry.host}/busybox:multi`], other).trim()}`).toBe(id);
      expect(fail(['pull', tls, '--platform', 'linux/s390x', `${registry.host}/busybox:multi`], other)).toMatch(
        /has no image for linux\/s390x \(it has: linux\/riscv64, linux\/amd64\)/,
      );
    } finally {
      other.dispose();
    }
  });

  it('two pulls of the same image at once share one layer', async () => {
    const other = sandbox();
    try {
      const runs = [0, 1].map(() => hutchAsync(['pull', '-q', tls, name], other));
      const codes = await Promise.all(runs.map((c) => new Promise<number | null>((r) => c.on('close', r))));
      expect(codes).toEqual([0, 0]);
      const layers = readdirSync(join(other.env.XDG_DATA_HOME as string, 'hutch', 'layers')).filter((n) =>
        /^[a-f0-9]{64}$/.test(n),
      );
      expect(layers).toHaveLength(1);
      expect(ok(['system', 'check'], other)).not.toMatch(/problem/i);
    } finally {
      other.dispose();
    }
  });

  it('names what is missing: an unknown image, an unreachable registry', () => {
    expect(fail(['pull', tls, `${registry.host}/nothing/here:1`], box)).toMatch(/not found/);
    expect(fail(['pull', tls, '127.0.0.1:1/busybox:1'], box)).toMatch(/cannot reach registry 127\.0\.0\.1:1/);
  });
});

describe.skipIf(skip)('registries that lie, and pulls that are cut short', () => {
  let registry: TestRegistry;
  let box: Sandbox;
  let layer: string;
  let image: Awaited<ReturnType<typeof fetchImage>>;

  beforeAll(async () => {
    registry = await startRegistry();
    box = sandbox();
    const rootfs = await busyboxRootfsTar();
    ok(['import', rootfs, `${registry.host}/busybox:1`], box);
    ok(['push', tls, `${registry.host}/busybox:1`], box);
    ok(['rmi', `${registry.host}/busybox:1`], box);
    image = await fetchImage(registry.url, 'busybox', '1');
    const manifest = JSON.parse(image.manifest.body.toString()) as { layers: { digest: string }[] };
    layer = manifest.layers[0]?.digest as string;
  });
  afterAll(async () => {
    box.dispose();
    await registry.stop();
  });

  const storage = () => join(box.env.XDG_DATA_HOME as string, 'hutch');

  it('a blob that does not match its digest: one line, nothing stored', async () => {
    const before = storeListing(storage());
    const fake = await startFakeRegistry(image, { corrupt: layer });
    try {
      expect(await failAsync(['pull', tls, `${fake.host}/busybox:1`], box)).toMatch(/does not match its digest/);
    } finally {
      await fake.stop();
    }
    expect(storeListing(storage()).filter((e) => !e.startsWith('oci/blobs'))).toEqual(
      before.filter((e) => !e.startsWith('oci/blobs')),
    );
    expect(storeListing(storage())).not.toContain(`oci/blobs/sha256/${layer.slice(7)}`);
    expect(ok(['images', '--format', 'json'], box).trim()).toBe('[]');
    expect(hutch(['system', 'check'], box).status).toBe(0);
  });

  it('a registry that stops in the middle of a blob: one line, nothing stored', async () => {
    const fake = await startFakeRegistry(image, { truncate: layer });
    try {
      const line = await failAsync(['pull', tls, `${fake.host}/busybox:1`], box);
      expect(line).toMatch(/pull 127\.0\.0\.1:\d+\/busybox:1: layer [a-f0-9]{12}: /);
    } finally {
      await fake.stop();
    }
    expect(storeListing(storage())).not.toContain(`oci/blobs/sha256/${layer.slice(7)}`);
    expect(hutch(['system', 'check'], box).status).toBe(0);
  });

  it('a pull killed with SIGKILL leaves a consistent store, and the next pull completes', async () => {
    const fake = await startFakeRegistry(image, { bytesPerSecond: 200_000 });
    try {
      const child = hutchAsync(['pull', tls, `${fake.host}/busybox:1`], box);
      const closed = new Promise((r) => child.on('close', r));
      // Cut in the middle of the layer: once a quarter of it has gone out (the rest takes seconds more).
      await Promise.race([fake.sent(layer, Math.floor((image.blobs.get(layer) as Buffer).length / 4)), closed]);
      expect(child.exitCode, 'the pull ended before it was cut').toBeNull();
      child.kill('SIGKILL');
      await closed;
      const check = hutch(['system', 'check', '--repair'], box);
      expect(check.status, check.stdout + check.stderr).toBe(0);
      expect(ok(['images', '--format', 'json'], box).trim()).toBe('[]');
    } finally {
      await fake.stop();
    }
    ok(['pull', tls, `${registry.host}/busybox:1`], box);
    expect(hutch(['system', 'check'], box).status).toBe(0);
  });
});

describe.skipIf(skip)('registries that want credentials', () => {
  let box: Sandbox;
  let rootfs: string;
  beforeAll(async () => {
    box = sandbox();
    rootfs = await busyboxRootfsTar();
  });
  afterAll(() => box.dispose());

  it('htpasswd: refused without credentials, works after login and with --creds', async () => {
    const registry = await startRegistry({ auth: 'htpasswd', users: { alice: 's3cret' } });
    try {
      const ref = `${registry.host}/private/busybox:1`;
      ok(['import', rootfs, ref], box);
      expect(fail(['push', tls, ref], box)).toMatch(/requires credentials|refused the credentials/);
      expect(fail(['push', tls, '--creds', 'alice:wrong', ref], box)).toMatch(/refused the credentials/);
      ok(['push', tls, '--creds', 'alice:s3cret', ref], box);
      const login = hutch(['login', tls, '-u', 'alice', '--password-stdin', registry.host], {
        ...box,
        input: 's3cret\n',
      });
      expect(login.status, login.stderr).toBe(0);
      ok(['rmi', ref], box);
      ok(['pull', tls, ref], box);
    } finally {
      await registry.stop();
    }
  });

  it('token auth: anonymous pull, push with credentials asks for pull,push', async () => {
    const registry = await startRegistry({ auth: 'token', users: { bob: 'hunter2' }, anonymousPull: true });
    try {
      const ref = `${registry.host}/team/busybox:1`;
      await okAsync(['import', rootfs, ref], box);
      await okAsync(['push', tls, '--creds', 'bob:hunter2', ref], box);
      const scopes = registry.tokenServer?.requests.flatMap((r) => r.scopes) ?? [];
      expect(scopes).toContain('repository:team/busybox:pull,push');
      const other = sandbox();
      try {
        await okAsync(['pull', tls, ref], other);
      } finally {
        other.dispose();
      }
    } finally {
      await registry.stop();
    }
  });
});

describe.skipIf(skip)('a Debian image', () => {
  it('round trip: import, push, rmi, pull gives back every file, owner, link and mode', async () => {
    const registry = await startRegistry();
    const box = sandbox();
    try {
      const rootfs = debianRootfsTar(box.env);
      const ref = `${registry.host}/debian:bookworm`;
      const id = ok(['import', rootfs, ref], box).trim();
      ok(['push', tls, ref], box);
      ok(['rmi', ref], box);
      expect(`sha256:${ok(['pull', tls, ref], box).trim()}`).toBe(id);
      const image = inspect(box, ref);
      const problems = diffTrees(
        await readTarTree(rootfs),
        readDirTree(layerDir(box, image.RootFS.Layers[0] as string), box.env),
      );
      expect(problems).toEqual([]);
    } finally {
      box.dispose();
      await registry.stop();
    }
  }, 300_000);
});
