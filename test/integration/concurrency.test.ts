/**
 * Load: commands of one user started together on one store, as the
 * unprivileged user. 8 pulls of one image from a real registry on 127.0.0.1,
 * 4 builds that share their first RUN through the layer cache, 20 `run --rm`:
 * every command succeeds, and afterwards nothing is duplicated (one layer
 * directory per diff id, the expected blobs), nothing is left (tmp/ empty, no
 * mount of the store in the session, no container), `system check` finds
 * nothing, and the image list is what the commands made.
 */
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxProcesses, sessionMountsUnder, tmpEntries, waitFor } from '../helpers/faults.js';
import { hutch, hutchRun, ok, sandbox, type Finished, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { needRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');
const needReg = needRegistry();
const skip = need.skip || needReg.skip;
const tls = '--tls-verify=false';

interface Inspected {
  Id: string;
  RootFS: { Layers: string[] };
}

describe.skipIf(skip)('load: many commands at once on one store', () => {
  let registry: TestRegistry;
  let box: Sandbox;
  let storage: string;
  let work: string;
  let image: string;

  const layerDirs = () => readdirSync(join(storage, 'layers')).filter((name) => name !== 'l');
  const blobs = () => readdirSync(join(storage, 'oci', 'blobs', 'sha256'));
  const inspect = (name: string): Inspected =>
    (JSON.parse(ok(['inspect', '--type', 'image', name], box)) as Inspected[])[0] as Inspected;
  const allOk = (results: Finished[], what: string) => {
    results.forEach((r, i) => expect(r.status, `${what} #${i}: ${r.stderr}`).toBe(0));
  };
  /** Nothing left behind and nothing wrong: what must hold after each wave. */
  const clean = async (what: string) => {
    await waitFor(
      () => sandboxProcesses(box).length === 0,
      () => `${what}: still running: ${JSON.stringify(sandboxProcesses(box).map((p) => p.argv.join(' ')))}`,
    );
    expect(tmpEntries(storage), `${what}: tmp/`).toEqual([]);
    expect(sessionMountsUnder(box, storage), `${what}: mounts`).toEqual([]);
    const check = hutch(['system', 'check'], box);
    expect(check.status, `${what}: ${check.stdout}${check.stderr}`).toBe(0);
    expect(check.stdout.trim(), what).toBe('the store is consistent');
  };

  beforeAll(async () => {
    registry = await startRegistry();
    work = mkdtempSync(join(tmpdir(), 'hutch-load-'));
    // The image is made and pushed from a store of its own, so that every pull below fetches every layer.
    image = `${registry.host}/load:1`;
    const maker = sandbox();
    try {
      ok(['import', await busyboxRootfsTar(), 'busybox'], maker);
      const dir = join(work, 'image');
      mkdirSync(dir);
      writeFileSync(join(dir, 'Containerfile'), 'FROM busybox\nRUN head -c 8000000 /dev/urandom > /blob\n');
      ok(['build', '-q', '--network', 'none', '-t', image, dir], maker);
      ok(['push', tls, image], maker);
    } finally {
      maker.dispose();
    }
    box = sandbox();
    storage = join(box.env.XDG_DATA_HOME as string, 'hutch');
  }, 180_000);
  afterAll(async () => {
    box?.dispose(work);
    await registry?.stop();
  });

  it('8 pulls of one image at once: one image, each layer once', async () => {
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 8 }, () => hutchRun(['pull', '-q', tls, image], box)));
    console.log(`load: 8 parallel pulls took ${Date.now() - started} ms`);
    allOk(results, 'pull');
    const ids = new Set(results.map((r) => r.stdout.trim().replace(/^sha256:/, '')));
    expect(ids.size).toBe(1);
    const pulled = inspect(image);
    expect([...ids][0]).toBe(pulled.Id.replace(/^sha256:/, ''));
    expect(layerDirs().sort()).toEqual(pulled.RootFS.Layers.map((l) => l.slice('sha256:'.length)).sort());
    // Two layer blobs, the config and the manifest.
    expect(blobs()).toHaveLength(4);
    expect(ok(['images', '--format', '{{.Repository}}:{{.Tag}}'], box).trim().split('\n')).toEqual([image]);
    expect(ok(['run', '--rm', '--network', 'none', image, 'wc', '-c', '/blob'], box)).toMatch(/^8000000 /);
    await clean('after the pulls');
  });

  it('4 builds at once share the cache: the common step is one layer, every image whole', async () => {
    const contexts = Array.from({ length: 4 }, (_, n) => {
      const dir = join(work, `build-${n}`);
      mkdirSync(dir);
      // --timestamp makes the shared step's layer the same bytes whichever build commits it.
      writeFileSync(join(dir, 'Containerfile'), `FROM ${image}\nRUN seq 1 20000 > /shared\nRUN echo ${n} > /own\n`);
      return dir;
    });
    const started = Date.now();
    const results = await Promise.all(
      contexts.map((dir, n) =>
        hutchRun(['build', '-q', '--network', 'none', '--timestamp', '0', '-t', `built-${n}`, dir], box),
      ),
    );
    console.log(`load: 4 parallel builds took ${Date.now() - started} ms`);
    allOk(results, 'build');
    const base = inspect(image).RootFS.Layers;
    const built = [0, 1, 2, 3].map((n) => inspect(`built-${n}`));
    const shared = new Set(built.map((b) => b.RootFS.Layers[base.length]));
    expect(shared.size).toBe(1);
    const own = new Set(built.map((b) => b.RootFS.Layers[base.length + 1]));
    expect(own.size).toBe(4);
    // Each diff id unpacked once: the base's, the shared step's, and one per build.
    expect(layerDirs()).toHaveLength(base.length + 1 + 4);
    for (const n of [0, 1, 2, 3]) {
      expect(ok(['run', '--rm', '--network', 'none', `built-${n}`, 'sh', '-c', 'cat /own; wc -l < /shared'], box)).toBe(
        `${n}\n20000\n`,
      );
    }
    const names = ok(['images', '--format', '{{.Repository}}:{{.Tag}}'], box).trim().split('\n').sort();
    expect(names).toEqual([...[0, 1, 2, 3].map((n) => `localhost/built-${n}:latest`), image].sort());
    await clean('after the builds');
  });

  it('20 run --rm at once: every one runs its command, none is left', async () => {
    const before = ok(['images', '-q'], box);
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        hutchRun(['run', '--rm', '--network', 'none', image, 'sh', '-c', `echo $((${n} * 7)); test -s /blob`], box),
      ),
    );
    console.log(`load: 20 parallel runs took ${Date.now() - started} ms`);
    allOk(results, 'run');
    results.forEach((r, n) => expect(r.stdout).toBe(`${n * 7}\n`));
    expect(ok(['ps', '-aq'], box).trim()).toBe('');
    expect(ok(['images', '-q'], box)).toBe(before);
    await clean('after the runs');
  });
});
