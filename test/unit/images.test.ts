import { describe, expect, it } from 'vitest';
import { digestOf } from '../../src/image/digest.js';
import { humanDuration, humanSize } from '../../src/cli/format/go-units.js';
import { formatImages, imageJson } from '../../src/cli/format/images.js';
import { tabulate } from '../../src/cli/format/table.js';
import { formatInspect } from '../../src/cli/format/template.js';
import { inspectJson } from '../../src/image/images.js';
import { emptyRegistriesConf } from '../../src/image/registries-conf/config.js';
import { referenceFilter } from '../../src/verbs/images.js';
import { MediaType } from '../../src/image/media.js';
import type { ResolvedImage } from '../../src/image/store/resolve.js';

const now = new Date('2026-11-25T12:00:00Z');
const diffId = digestOf('layer');
const image = (names: string[], created: string, size = 4_514_283): ResolvedImage => {
  const id = digestOf(`config ${names.join()}`);
  return {
    id,
    names,
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

  it('hutch images: one row per name, <none> for a nameless image, as podman lays it out', () => {
    const a = image(['localhost/myimg:latest', 'localhost/foo:1'], '2026-11-23T11:00:00Z', 1_987_655);
    const b = image([], '2026-11-25T11:59:59Z', 212);
    expect(formatImages([b, a], { now })).toBe(
      [
        'REPOSITORY       TAG         IMAGE ID      CREATED       SIZE',
        `<none>           <none>      ${b.id.slice(7, 19)}  1 second ago  212 B`,
        `localhost/myimg  latest      ${a.id.slice(7, 19)}  2 days ago    1.99 MB`,
        `localhost/foo    1           ${a.id.slice(7, 19)}  2 days ago    1.99 MB`,
        '',
      ].join('\n'),
    );
    expect(formatImages([b, a], { quiet: true, now })).toBe(`${b.id.slice(7, 19)}\n${a.id.slice(7, 19)}\n`);
    expect(formatImages([a], { quiet: true, noTrunc: true })).toBe(`${a.id}\n`);
    expect(formatImages([a], { format: '{{.Repository}}:{{.Tag}} {{.ID}}' })).toBe(
      `localhost/myimg:latest ${a.id.slice(7, 19)}\nlocalhost/foo:1 ${a.id.slice(7, 19)}\n`,
    );
  });

  it('images --format json has podman fields', () => {
    const a = image(['localhost/myimg:latest'], '2026-11-25T12:24:42.758Z');
    expect(imageJson(a)).toEqual({
      Id: a.id.slice(7),
      ParentId: '',
      RepoTags: ['localhost/myimg:latest'],
      RepoDigests: [`localhost/myimg@${a.manifestDescriptor.digest}`],
      Size: 4_514_283,
      SharedSize: 0,
      VirtualSize: 4_514_283,
      Labels: { a: 'b' },
      Containers: 0,
      Names: ['localhost/myimg:latest'],
      Digest: a.manifestDescriptor.digest,
      History: ['localhost/myimg:latest'],
      Created: Math.floor(Date.parse('2026-11-25T12:24:42Z') / 1000),
      CreatedAt: '2026-11-25T12:24:42Z',
      Dangling: false,
    });
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
  });
});

describe('referenceFilter (hutch images NAME)', () => {
  it('a repository matches each of its tags; a tag only itself', () => {
    const m = (input: string, name: string) => referenceFilter(input, emptyRegistriesConf())(name, digestOf('m'));
    expect(m('busybox', 'docker.io/library/busybox:1.36')).toBe(true);
    expect(m('busybox', 'docker.io/library/busybox:latest')).toBe(true);
    expect(m('busybox:1.36', 'docker.io/library/busybox:latest')).toBe(false);
    expect(m('myimg', 'localhost/myimg:2')).toBe(true);
    expect(m('app', 'localhost:5000/team/app:1')).toBe(true);
    expect(m('other', 'localhost:5000/team/app:1')).toBe(false);
  });
});
