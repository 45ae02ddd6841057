import { describe, expect, it } from 'vitest';
import type { Digest } from '../../src/image/digest.js';
import { parseImageConfig, parseManifestDocument } from '../../src/image/manifest.js';
import { selectManifest } from '../../src/image/platform.js';

const d = (c: string): Digest => `sha256:${c.repeat(64)}`;

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
