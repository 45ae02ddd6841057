import { describe, expect, it } from 'vitest';
import { dfSummaries, formatDf } from '../../src/cli/format/system-df.js';
import { digestOf } from '../../src/image/digest.js';
import type { ResolvedImage } from '../../src/image/store/resolve.js';
import type { DiskUsage } from '../../src/verbs/system-df.js';

const image = { id: digestOf('config'), created: new Date('2026-12-08T01:00:00Z') } as ResolvedImage;
const usage: DiskUsage = {
  images: [
    { image, name: 'localhost/bb:latest', size: 1_998_000, sharedSize: 1_998_000, containers: 1 },
    { image, name: 'localhost/app:latest', size: 2_005_000, sharedSize: 1_998_000, containers: 0 },
    { image, name: undefined, size: 2_000_000, sharedSize: 0, containers: 0 },
  ],
  containers: [
    {
      id: 'c'.repeat(64),
      name: 'c1',
      imageId: image.id,
      command: ['sleep', '10'],
      localVolumes: 1,
      size: 12,
      created: new Date('2026-12-08T01:59:00Z'),
      status: 'running',
    },
    {
      id: 'd'.repeat(64),
      name: 'c2',
      imageId: image.id,
      command: ['true'],
      localVolumes: 0,
      size: 100,
      created: new Date('2026-12-08T01:59:00Z'),
      status: 'exited',
    },
  ],
  volumes: [
    { name: 'v1', links: 2, size: 1000 },
    { name: 'v2', links: 0, size: 500 },
  ],
};

describe('system df', () => {
  it("podman's sums: images by name, active ones used by containers; running containers; volume links", () => {
    expect(formatDf(usage)).toBe(
      [
        'TYPE           TOTAL       ACTIVE      SIZE        RECLAIMABLE',
        'Images         3           1           6.003MB     4.005MB (67%)',
        'Containers     2           1           112B        100B (89%)',
        'Local Volumes  2           2           1.5kB       500B (33%)',
        '',
      ].join('\n'),
    );
    expect(dfSummaries({ images: [], containers: [], volumes: [] })[0]?.Reclaimable).toBe('0B (0%)');
  });

  it('--format over the summary rows, json as a list', () => {
    expect(formatDf(usage, { format: '{{.Type}}|{{.RawSize}}' })).toBe(
      'Images|6003000\nContainers|112\nLocal Volumes|1500\n',
    );
    expect(JSON.parse(formatDf(usage, { format: 'json' }))[2]).toMatchObject({ Type: 'Local Volumes', Active: 2 });
  });

  it('-v: a table each for images, containers and volumes', () => {
    const text = formatDf(usage, { verbose: true, now: new Date('2026-12-08T02:00:00Z') });
    expect(text).toContain('Images space usage:\n\nREPOSITORY ');
    expect(text).toContain(
      `localhost/app  latest      ${image.id.slice(7, 19)}  About an hour  2.005MB     1.998MB      7kB          0`,
    );
    expect(text).toContain('\n\nContainers space usage:\n\n');
    expect(text).toContain(
      `cccccccccccc  ${image.id.slice(7, 19)}  sleep 10    1              12B         About a minute  running     c1`,
    );
    expect(
      text.endsWith(
        'Local Volumes space usage:\n\nVOLUME NAME  LINKS       SIZE\nv1           2           1kB\nv2           0           500B\n',
      ),
    ).toBe(true);
  });
});
