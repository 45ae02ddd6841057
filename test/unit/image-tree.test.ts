import { describe, expect, it } from 'vitest';
import { formatImageTree } from '../../src/cli/format/image-tree.js';
import { goHumanSize } from '../../src/cli/format/go-units.js';
import { digestOf, type Digest } from '../../src/image/digest.js';
import { chainIds } from '../../src/image/lineage.js';
import { MediaType } from '../../src/image/media.js';
import type { ResolvedImage } from '../../src/image/store/resolve.js';
import { buildTree } from '../../src/verbs/image-tree.js';

const layer = (n: number) => digestOf(`layer ${n}`);
const sizes: Record<string, number> = { [layer(1)]: 1_997_000, [layer(2)]: 6144, [layer(3)]: 12 };

function image(name: string, layers: Digest[]): ResolvedImage {
  const id = digestOf(`config ${name}`);
  return {
    id,
    names: [name],
    namesHistory: [],
    manifestDescriptor: { mediaType: MediaType.ociManifest, digest: digestOf(`m ${id}`), size: 1 },
    manifest: { schemaVersion: 2, config: { mediaType: MediaType.ociConfig, digest: id, size: 1 }, layers: [] },
    config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers } },
    configSize: 1,
    size: layers.reduce((sum, l) => sum + (sizes[l] ?? 0), 0),
    created: undefined,
  };
}

const bb = image('localhost/bb:latest', [layer(1)]);
const app = image('localhost/app:latest', [layer(1), layer(2)]);
const other = image('localhost/other:latest', [layer(1), layer(3)]);
const sizeOf = (d: Digest) => sizes[d] ?? 0;
const short = (d: Digest) => d.slice(7, 19);

describe('image tree', () => {
  it("an image's layers, bottom first, with the images they top", () => {
    const [l1, l2] = chainIds([layer(1), layer(2)]) as [Digest, Digest];
    expect(formatImageTree(buildTree(app, [bb, app, other], sizeOf, false), false)).toBe(
      [
        `Image ID: ${short(app.id)}`,
        'Tags:     [localhost/app:latest]',
        'Size:     2.003MB',
        'Image Layers',
        `├── ID: ${short(l1)} Size: 1.997MB Top Layer of: [localhost/bb:latest]`,
        `└── ID: ${short(l2)} Size: 6.144kB Top Layer of: [localhost/app:latest]`,
        '',
        '',
      ].join('\n'),
    );
  });

  it('--whatrequires: what is built on the top layer; a layer with several children nests them', () => {
    const text = formatImageTree(buildTree(bb, [bb, app, other], sizeOf, true), true).split('\n');
    expect(text.slice(4)).toEqual([
      `└── ID: ${short(layer(1))} Size: 1.997MB Top Layer of: [localhost/bb:latest]`,
      `    ├── ID: ${short(chainIds([layer(1), layer(2)])[1] as Digest)} Size: 6.144kB Top Layer of: [localhost/app:latest]`,
      `    └── ID: ${short(chainIds([layer(1), layer(3)])[1] as Digest)} Size:     12B Top Layer of: [localhost/other:latest]`,
      '',
      '',
    ]);
  });

  it("go-units' HumanSize: four digits, no space", () => {
    expect(goHumanSize(2_005_468)).toBe('2.005MB');
    expect(goHumanSize(12)).toBe('12B');
    expect(goHumanSize(0)).toBe('0B');
    expect(goHumanSize(18_007_278)).toBe('18.01MB');
  });
});
