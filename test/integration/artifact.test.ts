/**
 * OCI artifacts against a real registry: files in, files out, with an
 * artifactType and annotations; attached to an image through `subject` and
 * listed by the referrers API's tag-schema fallback (docker-registry 2.8 has
 * no referrers API); a manifest whose file names would escape is refused.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fail, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { skopeo } from '../helpers/peers.js';
import { needRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'built');
const needReg = needRegistry();
const tls = '--tls-verify=false';

describe.skipIf(need.skip || needReg.skip)('hutch artifact', () => {
  let registry: TestRegistry;
  let box: Sandbox;
  let work: string;

  beforeAll(async () => {
    registry = await startRegistry();
    box = sandbox();
    work = mkdtempSync(join(tmpdir(), 'hutch-artifact-'));
    writeFileSync(join(work, 'sbom.json'), JSON.stringify({ packages: ['busybox'] }));
    writeFileSync(join(work, 'notes.txt'), 'hello\n'.repeat(50_000));
  });
  afterAll(async () => {
    box.dispose(work);
    await registry.stop();
  });

  it('pushes files with an artifactType and annotations, and pulls them back', () => {
    const ref = `${registry.host}/artifacts/bundle:v1`;
    const digest = ok(
      [
        'artifact',
        'push',
        tls,
        '--artifact-type',
        'application/vnd.example.bundle',
        '--annotation',
        'org.opencontainers.image.description=test bundle',
        ref,
        join(work, 'sbom.json:application/json'),
        join(work, 'notes.txt'),
      ],
      box,
    ).trim();
    expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    const raw = skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${ref}`]);
    expect(createHash('sha256').update(raw.stdout).digest('hex')).toBe(digest.slice(7));
    const manifest = JSON.parse(raw.stdout) as {
      artifactType: string;
      config: { mediaType: string };
      layers: { mediaType: string; annotations: Record<string, string> }[];
      annotations: Record<string, string>;
    };
    expect(manifest.artifactType).toBe('application/vnd.example.bundle');
    expect(manifest.config.mediaType).toBe('application/vnd.oci.empty.v1+json');
    expect(manifest.layers.map((l) => [l.mediaType, l.annotations['org.opencontainers.image.title']])).toEqual([
      ['application/json', 'sbom.json'],
      ['application/vnd.oci.image.layer.v1.tar', 'notes.txt'],
    ]);
    expect(manifest.annotations['org.opencontainers.image.description']).toBe('test bundle');

    const out = join(work, 'out');
    ok(['artifact', 'pull', tls, '-o', out, ref], box);
    expect(readdirSync(out).sort()).toEqual(['notes.txt', 'sbom.json']);
    for (const file of ['notes.txt', 'sbom.json']) {
      expect(readFileSync(join(out, file))).toEqual(readFileSync(join(work, file)));
    }
    expect(fail(['pull', tls, ref], box)).toMatch(/not an image layer/);
  });

  it('attaches an artifact to an image and lists it as a referrer', async () => {
    const image = `${registry.host}/app:1`;
    ok(['import', await busyboxRootfsTar(), image], box);
    ok(['push', tls, image], box);
    const signature = ok(
      [
        'artifact',
        'push',
        tls,
        '--artifact-type',
        'application/vnd.example.signature',
        '--subject',
        '1',
        `${registry.host}/app`,
        join(work, 'sbom.json'),
      ],
      box,
    ).trim();
    const sbom = ok(
      [
        'artifact',
        'push',
        tls,
        '--artifact-type',
        'application/vnd.example.sbom',
        '--subject',
        '1',
        `${registry.host}/app`,
        join(work, 'sbom.json'),
      ],
      box,
    ).trim();
    const all = JSON.parse(ok(['artifact', 'referrers', tls, '--format', 'json', image], box)) as {
      digest: string;
      artifactType: string;
    }[];
    expect(all.map((r) => [r.digest, r.artifactType]).sort()).toEqual(
      [
        [signature, 'application/vnd.example.signature'],
        [sbom, 'application/vnd.example.sbom'],
      ].sort(),
    );
    const signatures = JSON.parse(
      ok(
        [
          'artifact',
          'referrers',
          tls,
          '--format',
          'json',
          '--artifact-type',
          'application/vnd.example.signature',
          image,
        ],
        box,
      ),
    ) as { digest: string }[];
    expect(signatures.map((r) => r.digest)).toEqual([signature]);
  });

  it('refuses a manifest whose file names would leave the output directory', async () => {
    const blob = Buffer.from('evil');
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    const upload = await fetch(`${registry.url}/v2/evil/blobs/uploads/`, { method: 'POST' });
    const location = new URL(upload.headers.get('location') as string, registry.url);
    location.searchParams.set('digest', digest);
    expect((await fetch(location, { method: 'PUT', body: blob })).status).toBe(201);
    const empty = await fetch(`${registry.url}/v2/evil/blobs/uploads/`, { method: 'POST' });
    const emptyLocation = new URL(empty.headers.get('location') as string, registry.url);
    const emptyDigest = `sha256:${createHash('sha256').update('{}').digest('hex')}`;
    emptyLocation.searchParams.set('digest', emptyDigest);
    await fetch(emptyLocation, { method: 'PUT', body: '{}' });
    const manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/vnd.example',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: emptyDigest, size: 2 },
      layers: [
        {
          mediaType: 'application/octet-stream',
          digest,
          size: blob.length,
          annotations: { 'org.opencontainers.image.title': '../escaped' },
        },
      ],
    };
    const put = await fetch(`${registry.url}/v2/evil/manifests/1`, {
      method: 'PUT',
      headers: { 'Content-Type': manifest.mediaType },
      body: JSON.stringify(manifest),
    });
    expect(put.status).toBe(201);
    const out = join(work, 'evil-out');
    expect(fail(['artifact', 'pull', tls, '-o', out, `${registry.host}/evil:1`], box)).toMatch(
      /the file name "\.\.\/escaped" would leave the output directory/,
    );
    expect(existsSync(join(work, 'escaped'))).toBe(false);
  });
});
