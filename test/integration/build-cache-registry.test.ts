/**
 * --cache-to / --cache-from against Debian's docker-registry on 127.0.0.1: a
 * build exports every step to a cache repository; another store (a fresh CI
 * runner) builds the same Containerfile from that cache without running a
 * step and gets the same image; a changed file reruns from its step; bad
 * repositories fail or warn with one line.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorLines, fail, hutch, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { needRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');
const needReg = needRegistry();
const tls = '--tls-verify=false';

/** The cache key of the RUN step in a build's output (the layer line after it is not a key). */
function runStepKey(output: string): string {
  const lines = output.split('\n');
  const run = lines.findIndex((l) => /^STEP \d+\/\d+: RUN /.test(l));
  const key = /--> Using cache ([0-9a-f]{64})/.exec(lines[run + 1] ?? '')?.[1];
  if (key === undefined) throw new Error(`no cache key after the RUN step in:\n${output}`);
  return key;
}

describe.skipIf(need.skip || needReg.skip)('hutch build --cache-to / --cache-from', () => {
  let registry: TestRegistry;
  let first: Sandbox;
  let second: Sandbox;
  let work: string;
  let base: string;
  let cacheRepo: string;

  const context = (name: string, note: string): string => {
    const dir = join(work, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'Containerfile'),
      [
        `FROM ${base}`,
        'ENV STAGE=one',
        'COPY note.txt /note.txt',
        'RUN echo "RUN-STEP-$((1+1))" && cp /note.txt /copied.txt && echo app:x:1234:1234::/home/app:/bin/sh >> /etc/passwd && echo app:x:1234: >> /etc/group',
        'USER app',
        'WORKDIR /home/app/data',
        'CMD ["cat", "/copied.txt"]',
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'note.txt'), note);
    return dir;
  };

  beforeAll(async () => {
    registry = await startRegistry();
    first = sandbox();
    second = sandbox();
    work = mkdtempSync(join(tmpdir(), 'hutch-cache-registry-'));
    base = `${registry.host}/base/busybox:1`;
    cacheRepo = `${registry.host}/team/app-cache`;
    ok(['import', await busyboxRootfsTar(), base], first);
    ok(['push', tls, base], first);
  });
  afterAll(async () => {
    first.dispose(work);
    second.dispose();
    await registry.stop();
  });

  it('a fresh store builds from the registry cache: no step runs, the same image', () => {
    const dir = context('app', 'version 1\n');
    const cold = ok(['build', tls, '--cache-to', cacheRepo, '-t', 'app', dir], first);
    expect(cold).toContain('RUN-STEP-2');
    expect(cold).toContain(`Cache stored in ${cacheRepo}`);
    const id = ok(['images', '-q', '--no-trunc', 'app'], first).trim();

    // The second store has neither the base nor any cache: it pulls the base and every step's layer.
    const warm = ok(['build', tls, '--cache-from', cacheRepo, '-t', 'app', dir], second);
    expect(warm).not.toContain('RUN-STEP-2');
    // FROM aside, six steps: ENV, COPY, RUN, USER, WORKDIR, CMD, each from the cache.
    expect(warm.match(/--> Using cache [0-9a-f]{64}/g)).toHaveLength(6);
    expect(ok(['images', '-q', '--no-trunc', 'app'], second).trim()).toBe(id);
    expect(ok(['run', '--rm', 'app'], second)).toBe('version 1\n');
    expect(ok(['run', '--rm', 'app', 'sh', '-c', 'id -un; pwd; ls -ld .'], second)).toMatch(
      /^app\n\/home\/app\/data\ndrwxr-xr-x\s+\d+ app\s+app\s/,
    );
  });

  it('a changed context file reruns from its step, and the new steps are exported', () => {
    const dir = context('app-changed', 'version 2\n');
    const changed = ok(['build', tls, '--cache-from', cacheRepo, '--cache-to', cacheRepo, '-t', 'app:2', dir], second);
    expect(changed.match(/--> Using cache/g)).toHaveLength(1); // ENV only
    expect(changed).toContain('RUN-STEP-2');
    expect(ok(['run', '--rm', 'app:2'], second)).toBe('version 2\n');
    // The first store, which never built version 2, now finds it in the registry.
    const again = ok(['build', tls, '--cache-from', cacheRepo, '-t', 'app:2', dir], first);
    expect(again).not.toContain('RUN-STEP-2');
    expect(ok(['images', '-q', '--no-trunc', 'app:2'], first).trim()).toBe(
      ok(['images', '-q', '--no-trunc', 'app:2'], second).trim(),
    );
  });

  it('--no-cache ignores --cache-from', () => {
    const dir = context('app-nocache', 'version 1\n');
    const out = ok(['build', tls, '--no-cache', '--cache-from', cacheRepo, dir], second);
    expect(out).not.toMatch(/Using cache/);
    expect(out).toContain('RUN-STEP-2');
  });

  it('a cache entry that lies about its layer is not used: the step runs, the store stays whole', async () => {
    const dir = context('app-lie', 'version 4\n');
    ok(['build', tls, '--cache-to', `${registry.host}/lies`, dir], first);
    // A rebuild names each step's key; the RUN step's entry is rewritten to claim another diff id for its layer.
    const runKey = runStepKey(ok(['build', dir], first));
    const got = await fetch(`${registry.url}/v2/lies/manifests/${runKey}`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    const manifest = (await got.json()) as { config: { digest: string; size: number } };
    const config = (await (await fetch(`${registry.url}/v2/lies/blobs/${manifest.config.digest}`)).json()) as {
      rootfs: { diff_ids: string[] };
    };
    config.rootfs.diff_ids = [`sha256:${'0'.repeat(64)}`];
    const body = Buffer.from(JSON.stringify(config));
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    const upload = await fetch(`${registry.url}/v2/lies/blobs/uploads/`, { method: 'POST' });
    const location = new URL(upload.headers.get('location') as string, registry.url);
    location.searchParams.set('digest', digest);
    expect((await fetch(location, { method: 'PUT', body })).status).toBe(201);
    manifest.config = { ...manifest.config, digest, size: body.length };
    const put = await fetch(`${registry.url}/v2/lies/manifests/${runKey}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: JSON.stringify(manifest),
    });
    expect(put.status).toBe(201);

    const fresh = sandbox();
    try {
      const result = hutch(['build', tls, '--cache-from', `${registry.host}/lies`, dir], fresh);
      expect(result.status).toBe(0);
      expect(result.stderr).toMatch(
        /^WARN: --cache-from 127\.0\.0\.1:\d+\/lies: layer [0-9a-f]{12}: .*does not match/m,
      );
      expect(result.stdout).toContain('RUN-STEP-2');
      expect(ok(['system', 'check'], fresh)).not.toMatch(/damaged|missing/i);
    } finally {
      fresh.dispose();
    }
  });

  it('refuses a cache repository with a tag, in one line', () => {
    const dir = context('app-tag', 'version 1\n');
    const stderr = fail(['build', tls, '--cache-to', `${cacheRepo}:v1`, dir], second);
    expect(errorLines(stderr)).toEqual([`Error: --cache-to ${cacheRepo}:v1: a cache repository has no tag or digest`]);
  });

  it('an unreachable --cache-from is a warning; an unreachable --cache-to fails the build', () => {
    const dir = context('app-unreachable', 'version 3\n');
    const from = hutch(['build', tls, '--cache-from', '127.0.0.1:1/cache', dir], second);
    expect(from.status).toBe(0);
    expect(from.stderr.match(/WARN: --cache-from 127\.0\.0\.1:1\/cache: /g)).toHaveLength(1);
    expect(from.stdout).toContain('RUN-STEP-2');

    const to = hutch(['build', tls, '--cache-to', '127.0.0.1:1/cache', dir], second);
    expect(to.status).toBe(125);
    expect(errorLines(to.stderr)).toHaveLength(1);
    expect(errorLines(to.stderr)[0]).toMatch(/^Error: .*--cache-to 127\.0\.0\.1:1\/cache/);
  });
});
