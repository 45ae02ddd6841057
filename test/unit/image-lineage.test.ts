import { describe, expect, it } from 'vitest';
import { digestOf, type Digest } from '../../src/image/digest.js';
import { chainIds, isParentOf, lineage } from '../../src/image/lineage.js';
import { MediaType } from '../../src/image/media.js';
import type { HistoryEntry } from '../../src/image/oci.js';
import type { ResolvedImage } from '../../src/image/store/resolve.js';

const layer = (n: number) => digestOf(`layer ${n}`);
const step = (n: number, empty = false): HistoryEntry => ({
  created: `2026-12-0${n}T00:00:00Z`,
  created_by: `step ${n}`,
  ...(empty ? { empty_layer: true } : {}),
});

function image(name: string | undefined, layers: Digest[], history: HistoryEntry[]): ResolvedImage {
  const id = digestOf(`config ${name} ${layers.join()} ${JSON.stringify(history)}`);
  return {
    id,
    names: name === undefined ? [] : [name],
    namesHistory: [],
    manifestDescriptor: { mediaType: MediaType.ociManifest, digest: digestOf(`m ${id}`), size: 1 },
    manifest: { schemaVersion: 2, config: { mediaType: MediaType.ociConfig, digest: id, size: 1 }, layers: [] },
    config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers }, history },
    configSize: 1,
    size: 1,
    created: undefined,
  };
}

describe('lineage: which image is built on which', () => {
  const base = image('localhost/base:1', [layer(1)], [step(1)]);
  // A step that made a layer, and one that made none (LABEL): both are children.
  const child = image('localhost/app:1', [layer(1), layer(2)], [step(1), step(2)]);
  const labelled = image(undefined, [layer(1)], [step(1), step(3, true)]);
  const grandchild = image(undefined, [layer(1), layer(2), layer(4)], [step(1), step(2), step(4)]);
  const stranger = image('localhost/other:1', [layer(1), layer(2)], [step(1), step(5)]);

  it('a parent has a prefix of the layers and strictly less of the same history', () => {
    expect(isParentOf(base, child)).toBe(true);
    expect(isParentOf(base, labelled)).toBe(true);
    expect(isParentOf(child, base)).toBe(false);
    expect(isParentOf(base, base)).toBe(false);
    expect(isParentOf(child, stranger)).toBe(false);
  });

  it('parents and children, through the top layers', () => {
    const family = lineage([base, child, labelled, grandchild, stranger]);
    expect(family.parentOf(child)?.id).toBe(base.id);
    expect(family.parentOf(grandchild)?.id).toBe(child.id);
    expect(family.parentOf(base)).toBeUndefined();
    expect(
      family
        .childrenOf(base)
        .map((i) => i.id)
        .sort(),
    ).toEqual([child.id, labelled.id, stranger.id].sort());
    expect(family.childrenOf(grandchild)).toEqual([]);
  });

  it('chain ids: the first is the diff id, each next hashes the one below with it', () => {
    const chain = chainIds([layer(1), layer(2)]);
    expect(chain[0]).toBe(layer(1));
    expect(chain[1]).toBe(digestOf(`${layer(1)} ${layer(2)}`));
  });
});
