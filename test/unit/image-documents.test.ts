import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { digestOf, DigestMismatchError, VerifyingStream, type Digest } from '../../src/image/digest.js';
import { parseImageConfig, parseManifestDocument } from '../../src/image/manifest.js';
import { parsePlatform, selectManifest } from '../../src/image/platform.js';
import { tee } from '../../src/image/tee.js';

const sink = () => new Writable({ write: (_c, _e, done) => done() });
const d = (c: string): Digest => `sha256:${c.repeat(64)}`;

describe('verifying streams', () => {
  it('passes content that matches digest and size', async () => {
    const data = Buffer.from('hello');
    await pipeline(Readable.from([data]), new VerifyingStream('blob', { digest: digestOf(data), size: 5 }), sink());
  });

  it('fails on a wrong digest, a short body and an overlong one', async () => {
    const data = Buffer.from('hello');
    const run = (expected: { digest: Digest; size?: number }, chunks: Buffer[]) =>
      pipeline(Readable.from(chunks), new VerifyingStream('blob x', expected), sink());
    await expect(run({ digest: digestOf('other'), size: 5 }, [data])).rejects.toBeInstanceOf(DigestMismatchError);
    await expect(run({ digest: digestOf(data), size: 6 }, [data])).rejects.toThrow(/expected 6 bytes, got 5/);
    await expect(run({ digest: digestOf(data), size: 3 }, [data])).rejects.toThrow(/expected 3 bytes, got 5/);
  });
});

describe('manifest documents', () => {
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d('a'), size: 10 },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('b'), size: 20 }],
  };

  it('tells manifests from indexes', () => {
    expect(parseManifestDocument(Buffer.from(JSON.stringify(manifest)), undefined, 'x').kind).toBe('manifest');
    const index = { schemaVersion: 2, manifests: [manifest.config] };
    expect(parseManifestDocument(Buffer.from(JSON.stringify(index)), undefined, 'x').kind).toBe('index');
  });

  it('refuses what a lying source could send', () => {
    const bad = (value: unknown) => () => parseManifestDocument(Buffer.from(JSON.stringify(value)), undefined, 'img');
    expect(() => parseManifestDocument(Buffer.from('{not json'), undefined, 'img')).toThrow(
      /img: invalid document: not JSON/,
    );
    expect(bad({ ...manifest, schemaVersion: 1 })).toThrow(/schema 1 images are not supported/);
    expect(bad({ ...manifest, layers: [{ ...manifest.layers[0], digest: 'sha256:../../etc' }] })).toThrow(/bad digest/);
    expect(bad({ ...manifest, layers: [{ ...manifest.layers[0], size: -1 }] })).toThrow(/bad size/);
    expect(bad({ ...manifest, layers: undefined })).toThrow(/without layers/);
  });

  it('checks the types oci.ts promises, as Go would; JSON null reads as absent (found by test/fuzz)', () => {
    const bad = (value: unknown) => () => parseManifestDocument(Buffer.from(JSON.stringify(value)), undefined, 'img');
    const layer = manifest.layers[0];
    expect(bad({ ...manifest, layers: [{ ...layer, urls: 'http://x' }] })).toThrow(
      `img: invalid document: the descriptor of ${d('b')}: urls is "http://x", not a list of strings`,
    );
    expect(bad({ ...manifest, layers: [{ ...layer, annotations: { a: 1 } }] })).toThrow(
      /annotations is .*not an object of strings/,
    );
    expect(bad({ ...manifest, mediaType: 5 })).toThrow('img: invalid document: mediaType is 5, not a string');
    expect(bad({ ...manifest, subject: { mediaType: 'x' } })).toThrow(/bad digest undefined/);
    const index = (platform: unknown) => ({ schemaVersion: 2, manifests: [{ ...manifest.config, platform }] });
    expect(bad(index('linux/amd64'))).toThrow(/platform is "linux\/amd64", not an object/);
    expect(bad(index({ os: 'linux' }))).toThrow(/its platform has no os and architecture/);
    expect(bad(index({ os: 'linux', architecture: 5 }))).toThrow(/platform\.architecture is 5, not a string/);
    // A null platform is none (it crashed the platform choice), and the choice says so.
    const parsed = parseManifestDocument(Buffer.from(JSON.stringify(index(null))), undefined, 'img');
    if (parsed.kind !== 'index') throw new Error('not an index');
    expect(parsed.index.manifests[0]?.platform).toBeUndefined();
    expect(() => selectManifest(parsed.index, { os: 'linux', architecture: 'amd64' }, 'img')).toThrow(
      'img has no image for linux/amd64 (it has: unknown)',
    );
  });

  it("checks an image config's fields before run or build reads them (found by test/fuzz)", () => {
    const config = (extra: Record<string, unknown>) =>
      Buffer.from(
        JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, ...extra }),
      );
    expect(() => parseImageConfig(Buffer.from('{"rootfs":null}'), 0, 'c')).toThrow(
      'c: invalid document: the config has no rootfs.diff_ids',
    );
    expect(() => parseImageConfig(config({ config: { Env: 'A=1' } }), 0, 'c')).toThrow(
      'c: invalid document: the config: config.Env is "A=1", not a list of strings',
    );
    expect(() => parseImageConfig(config({ config: { Labels: { a: [] } } }), 0, 'c')).toThrow(/config\.Labels is/);
    expect(() => parseImageConfig(config({ history: [{ created_by: 1 }] }), 0, 'c')).toThrow(
      /history entry created_by is 1, not a string/,
    );
    expect(() => parseImageConfig(config({ config: { Healthcheck: { Test: 'true' } } }), 0, 'c')).toThrow(
      /config\.Healthcheck\.Test is/,
    );
    // Null is absent (dropped), except where null has a meaning of its own (Cmd, Entrypoint: cleared).
    const parsed = parseImageConfig(config({ config: { Env: null, Cmd: null, Labels: null }, history: null }), 0, 'c');
    expect(parsed.config).toEqual({ Cmd: null });
    expect(parsed.history).toBeUndefined();
  });

  it('checks that the config has a diff id per layer', () => {
    const config = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [d('c')] } };
    expect(parseImageConfig(Buffer.from(JSON.stringify(config)), 1, 'c').rootfs.diff_ids).toEqual([d('c')]);
    expect(() => parseImageConfig(Buffer.from(JSON.stringify(config)), 2, 'c')).toThrow(
      /lists 1 layers, the manifest 2/,
    );
  });
});

describe('platforms', () => {
  const entry = (architecture: string, variant?: string) => ({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: d(architecture === 'amd64' ? '1' : '2'),
    size: 1,
    platform: { os: 'linux', architecture, ...(variant === undefined ? {} : { variant }) },
  });
  const index = { schemaVersion: 2 as const, manifests: [entry('arm64'), entry('amd64')] };

  it('selects the wanted platform; arm64 without a variant is v8', () => {
    expect(selectManifest(index, parsePlatform('linux/amd64'), 'x').digest).toBe(d('1'));
    expect(selectManifest(index, parsePlatform('linux/arm64/v8'), 'x').digest).toBe(d('2'));
  });

  it('lists what there is when nothing fits', () => {
    expect(() => selectManifest(index, parsePlatform('linux/s390x'), 'img')).toThrow(
      'img has no image for linux/s390x (it has: linux/arm64, linux/amd64)',
    );
    expect(() => parsePlatform('linux')).toThrow(/invalid --platform/);
  });
});

describe('tee', () => {
  it('gives both sides every byte, at the pace of the slower one', async () => {
    const chunks = Array.from({ length: 200 }, (_, i) => Buffer.alloc(16 * 1024, i));
    const [a, b] = tee(Readable.from(chunks));
    const collect = async (stream: Readable, delay: number) => {
      const parts: Buffer[] = [];
      for await (const chunk of stream) {
        parts.push(chunk as Buffer);
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      }
      return Buffer.concat(parts);
    };
    const [fast, slow] = await Promise.all([collect(a, 0), collect(b, 1)]);
    expect(fast.equals(Buffer.concat(chunks))).toBe(true);
    expect(slow.equals(fast)).toBe(true);
  });

  it('stops feeding a side destroyed without an error', async () => {
    const [a, b] = tee(Readable.from(Array.from({ length: 100 }, () => Buffer.alloc(64 * 1024))));
    a.destroy();
    let size = 0;
    for await (const chunk of b) size += (chunk as Buffer).length;
    expect(size).toBe(100 * 64 * 1024);
  });

  it('destroys the source and the other side when one side fails', async () => {
    const source = new Readable({ read() {} });
    const [a, b] = tee(source);
    const failure = new Error('disk full');
    a.destroy(failure);
    await expect(new Promise((_, reject) => b.on('error', reject))).rejects.toBe(failure);
    expect(source.destroyed).toBe(true);
  });
});
