import { describe, expect, it } from 'vitest';
import { digestOf } from '../../src/image/digest.js';
import { humanDuration, humanSize } from '../../src/cli/format/go-units.js';
import { formatImages, imageJson, imageRows, imageTemplateRow } from '../../src/cli/format/images.js';
import { tabulate } from '../../src/cli/format/table.js';
import { formatInspect } from '../../src/cli/format/template.js';
import { inspectJson } from '../../src/image/images.js';
import type { ImageSummary } from '../../src/verbs/images.js';
import { MediaType } from '../../src/image/media.js';
import type { ResolvedImage } from '../../src/image/store/resolve.js';

const now = new Date('2026-11-25T12:00:00Z');
const diffId = digestOf('layer');
const image = (names: string[], created: string, size = 4_514_283): ResolvedImage => {
  const id = digestOf(`config ${names.join()}`);
  return {
    id,
    names,
    namesHistory: names,
    manifestDescriptor: { mediaType: MediaType.ociManifest, digest: digestOf(`manifest ${names.join()}`), size: 400 },
    manifest: {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: id, size: 300 },
      layers: [{ mediaType: MediaType.ociLayerGzip, digest: digestOf('blob'), size: 2_000_000 }],
    },
    config: {
      created,
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['sh'], Labels: { a: 'b' } },
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created, created_by: 'x', comment: 'imported from tarball' }],
    },
    configSize: 300,
    size,
    created: new Date(created),
  };
};

const summary = (resolved: ResolvedImage, facts: Partial<ImageSummary> = {}): ImageSummary => ({
  image: resolved,
  parent: undefined,
  dangling: resolved.names.length === 0,
  intermediate: false,
  containers: 0,
  readOnly: false,
  ...facts,
});

describe('podman-style formatting', () => {
  it('sizes as go-units HumanSizeWithPrecision(size, 3)', () => {
    expect(humanSize(0)).toBe('0 B');
    expect(humanSize(212)).toBe('212 B');
    expect(humanSize(1987655)).toBe('1.99 MB');
    expect(humanSize(4_500_000)).toBe('4.5 MB');
    expect(humanSize(824_000)).toBe('824 kB');
    expect(humanSize(999_999)).toBe('1e+03 kB');
    expect(humanSize(1_240_000_000)).toBe('1.24 GB');
  });

  it('ages as go-units HumanDuration', () => {
    expect(humanDuration(500)).toBe('Less than a second');
    expect(humanDuration(1000)).toBe('1 second');
    expect(humanDuration(45_000)).toBe('45 seconds');
    expect(humanDuration(90_000)).toBe('About a minute');
    expect(humanDuration(30 * 60_000)).toBe('30 minutes');
    expect(humanDuration(3600_000)).toBe('About an hour');
    expect(humanDuration(5 * 3600_000)).toBe('5 hours');
    expect(humanDuration(2 * 86400_000)).toBe('2 days');
    expect(humanDuration(21 * 86400_000)).toBe('3 weeks');
    expect(humanDuration(90 * 86400_000)).toBe('3 months');
    expect(humanDuration(800 * 86400_000)).toBe('2 years');
  });

  it('columns as tabwriter (minwidth 12, padding 2), the last one unpadded', () => {
    expect(tabulate([['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']])).toBe(
      'REPOSITORY  TAG         IMAGE ID    CREATED     SIZE\n',
    );
    expect(
      tabulate([
        ['REPOSITORY', 'TAG', 'SIZE'],
        ['localhost/myimg', 'latest', '1.99 MB'],
      ]),
    ).toBe('REPOSITORY       TAG         SIZE\nlocalhost/myimg  latest      1.99 MB\n');
  });

  it('hutch images: one row per tagged name, <none> for a nameless image, as podman lays it out', () => {
    const a = summary(image(['localhost/myimg:latest', 'localhost/foo:1'], '2026-11-23T11:00:00Z', 1_987_655));
    const b = summary(image([], '2026-11-25T11:59:59Z', 212));
    const aId = a.image.id.slice(7, 19);
    const bId = b.image.id.slice(7, 19);
    expect(formatImages([b, a], { now })).toBe(
      [
        'REPOSITORY       TAG         IMAGE ID      CREATED       SIZE',
        `<none>           <none>      ${bId}  1 second ago  212 B`,
        `localhost/myimg  latest      ${aId}  2 days ago    1.99 MB`,
        `localhost/foo    1           ${aId}  2 days ago    1.99 MB`,
        '',
      ].join('\n'),
    );
    expect(formatImages([b, a], { quiet: true, now })).toBe(`${bId}\n${aId}\n`);
    expect(formatImages([a], { quiet: true, noTrunc: true })).toBe(`${a.image.id}\n`);
    expect(formatImages([a], { format: '{{.Repository}}:{{.Tag}} {{.ID}}' })).toBe(
      `localhost/myimg:latest ${aId}\nlocalhost/foo:1 ${aId}\n`,
    );
    expect(formatImages([b, a], { noHeading: true, now }).split('\n')[0]).toBe(
      `<none>           <none>      ${bId}  1 second ago  212 B`,
    );
  });

  it('a name by digest alone makes no row of its own: it shows as <none> only when the image has no tag', () => {
    const digestOnly = summary(image(['quay.io/x/y@sha256:' + 'a'.repeat(64)], '2026-11-23T11:00:00Z'));
    expect(imageRows([digestOnly]).map((r) => [r.repository, r.tag])).toEqual([['quay.io/x/y', '<none>']]);
    const both = summary(image(['quay.io/x/y@sha256:' + 'a'.repeat(64), 'quay.io/x/y:1'], '2026-11-23T11:00:00Z'));
    expect(imageRows([both]).map((r) => [r.repository, r.tag])).toEqual([['quay.io/x/y', '1']]);
  });

  it('--sort repository and tag ascending, created newest first; --digests and --history add columns', () => {
    const a = summary(image(['localhost/zz:1'], '2026-11-23T11:00:00Z', 10));
    const b = summary(image(['a.b/c:d', 'localhost/mm:0'], '2026-11-24T11:00:00Z', 20));
    const repos = (o: object) =>
      formatImages([a, b], { ...o, format: '{{.Repository}}:{{.Tag}}' })
        .trim()
        .split('\n');
    expect(repos({ sort: 'repository' })).toEqual(['a.b/c:d', 'localhost/mm:0', 'localhost/zz:1']);
    expect(repos({ sort: 'tag' })).toEqual(['localhost/mm:0', 'localhost/zz:1', 'a.b/c:d']);
    expect(repos({ sort: 'created' })).toEqual(['a.b/c:d', 'localhost/mm:0', 'localhost/zz:1']);
    expect(repos({ sort: 'size' })).toEqual(['localhost/zz:1', 'a.b/c:d', 'localhost/mm:0']);
    const table = formatImages([a], { digests: true, history: true, now }).split('\n');
    expect(table[0]).toBe(
      'REPOSITORY    TAG         DIGEST                                                                   IMAGE ID      CREATED     SIZE        HISTORY',
    );
    expect(table[1]).toContain(`${a.image.manifestDescriptor.digest}  ${a.image.id.slice(7, 19)}`);
    expect(table[1]?.endsWith('10 B        localhost/zz:1')).toBe(true);
  });

  it('--format table: a header from the fields, columns aligned as tabwriter', () => {
    const a = summary(image(['a.b/c:d', 'zzzzzzzzzz.yyyyyyyyy/xxxxxxxxx:' + 't'.repeat(15)], '2026-11-23T11:00:00Z'));
    const id = a.image.id.slice(7, 19);
    expect(formatImages([a], { format: 'table {{.Repository}} {{.Tag}} {{.ID}}', sort: 'repository' })).toBe(
      [
        'REPOSITORY                      TAG              IMAGE ID',
        `a.b/c                           d                ${id}`,
        `zzzzzzzzzz.yyyyyyyyy/xxxxxxxxx  ${'t'.repeat(15)}  ${id}`,
        '',
      ].join('\n'),
    );
    expect(formatImages([a], { format: 'table {{.ID}}', noHeading: true })).toBe(`${id}\n${id}\n`);
    expect(formatImages([], { format: 'table {{.ID}} {{.Size}}' })).toBe('IMAGE ID    SIZE\n');
  });

  it("template rows have podman's field names and Go's renderings", () => {
    const a = summary(image(['localhost/myimg:latest'], '2026-11-25T11:59:00.5Z'), { containers: 2 });
    const [row] = imageRows([a]);
    const fields = imageTemplateRow(row as never, { now }) as Record<string, unknown>;
    expect(fields).toMatchObject({
      Repository: 'localhost/myimg',
      Tag: 'latest',
      ID: a.image.id.slice(7, 19),
      Id: a.image.id.slice(7),
      Created: 'About a minute ago',
      CreatedSince: 'About a minute ago',
      CreatedAt: '2026-11-25 11:59:00 +0000 UTC',
      Size: '4.51 MB',
      VirtualSize: 4_514_283,
      SharedSize: 0,
      Containers: 2,
      Dangling: false,
      ReadOnly: false,
      Labels: { a: 'b' },
      History: 'localhost/myimg:latest',
      Digest: a.image.manifestDescriptor.digest,
    });
    expect((imageTemplateRow(row as never, { noTrunc: true }) as { ID: string }).ID).toBe(a.image.id);
  });

  it('images --format json: one object per row, with podman fields in its order', () => {
    const a = summary(image(['localhost/myimg:latest'], '2026-11-25T12:24:42.758Z'));
    const [row] = imageRows([a]);
    const json = imageJson(row as never);
    expect(json).toEqual({
      Id: a.image.id.slice(7),
      ParentId: '',
      RepoTags: null,
      RepoDigests: [`localhost/myimg@${a.image.manifestDescriptor.digest}`],
      Size: 4_514_283,
      SharedSize: 0,
      VirtualSize: 4_514_283,
      Labels: { a: 'b' },
      Containers: 0,
      Names: ['localhost/myimg:latest'],
      Digest: a.image.manifestDescriptor.digest,
      History: ['localhost/myimg:latest'],
      Created: Math.floor(Date.parse('2026-11-25T12:24:42Z') / 1000),
      CreatedAt: '2026-11-25T12:24:42Z',
    });
    const dangling = summary(image([], '2026-11-25T12:24:42Z'), { dangling: true });
    const nameless = imageJson(imageRows([dangling])[0] as never);
    expect(nameless.Dangling).toBe(true);
    expect('Names' in nameless).toBe(false);
    expect(formatImages([a, dangling], { format: '{{json .}}' })).toBe(
      `${JSON.stringify([json, nameless], null, 4)}\n`,
    );
  });

  it('inspect has podman fields, indented by five spaces', () => {
    const a = image(['docker.io/library/busybox:latest'], '2026-11-25T12:24:42Z');
    const json = inspectJson(a);
    expect(Object.keys(json)).toEqual([
      'Id',
      'Digest',
      'RepoTags',
      'RepoDigests',
      'Parent',
      'Comment',
      'Created',
      'Config',
      'Version',
      'Author',
      'Architecture',
      'Os',
      'Size',
      'VirtualSize',
      'RootFS',
      'Labels',
      'Annotations',
      'ManifestType',
      'User',
      'History',
      'NamesHistory',
    ]);
    expect(json.RootFS).toEqual({ Type: 'layers', Layers: [diffId] });
    expect(json.Comment).toBe('imported from tarball');
    expect(formatInspect([json]).split('\n')[1]).toBe('     {');
    expect(formatInspect([json], '{{.Id}} {{.Config.Cmd}} {{json .Config.Labels}}')).toBe(
      `${a.id.slice(7)} [sh] {"a":"b"}\n`,
    );
    // podman's struct field is ID: templates may say either; the JSON keeps Id alone.
    expect(formatInspect([json], '{{.ID}}')).toBe(`${a.id.slice(7)}\n`);
    expect(JSON.parse(formatInspect([json]))[0]).not.toHaveProperty('ID');
    expect(json.NamesHistory).toEqual(['docker.io/library/busybox:latest']);
  });
});
