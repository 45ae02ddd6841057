import { describe, expect, it } from 'vitest';
import type { Digest } from '../../src/image/digest.js';
import { parsePlatform, selectManifest } from '../../src/image/platform.js';

const d = (c: string): Digest => `sha256:${c.repeat(64)}`;

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
