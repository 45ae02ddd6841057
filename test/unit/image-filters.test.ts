import { describe, expect, it } from 'vitest';
import { HutchError } from '../../src/errors.js';
import { digestOf } from '../../src/image/digest.js';
import {
  compileImageFilters,
  goPathMatch,
  parseGoDuration,
  parseUntil,
  referenceCandidates,
  type FilterSubject,
} from '../../src/image/filters.js';
import { MediaType } from '../../src/image/media.js';
import { ImageNotKnownError, type ResolvedImage } from '../../src/image/store/resolve.js';

const now = new Date('2026-12-08T12:00:00Z');

function subject(
  names: string[],
  created: string | undefined,
  facts: Partial<Omit<FilterSubject, 'image'>> = {},
  labels: Record<string, string> = {},
): FilterSubject {
  const id = digestOf(`config ${names.join()} ${created}`);
  const image: ResolvedImage = {
    id,
    names,
    namesHistory: names,
    manifestDescriptor: { mediaType: MediaType.ociManifest, digest: digestOf(`manifest ${id}`), size: 1 },
    manifest: {
      schemaVersion: 2,
      config: { mediaType: MediaType.ociConfig, digest: id, size: 1 },
      layers: [],
    },
    config: {
      architecture: 'amd64',
      os: 'linux',
      config: { Labels: labels },
      rootfs: { type: 'layers', diff_ids: [] },
    },
    configSize: 1,
    size: 1,
    created: created === undefined ? undefined : new Date(created),
  };
  return { image, dangling: false, intermediate: false, containers: 0, readOnly: false, ...facts };
}

const bb = subject(['localhost/bb:latest'], '2026-12-08T11:00:00Z');
const app = subject(['localhost/app:latest'], '2026-12-08T11:30:00Z', {}, { created_by: 'me', other: 'x' });
const old = subject([], '2026-12-01T00:00:00Z', { dangling: true });
const used = subject(['quay.io/libpod/testimage:20220615'], '2022-06-15T00:00:00Z', { containers: 2 });
const all = [bb, app, old, used];

const context = {
  lookup(name: string): ResolvedImage {
    const found = all.find(
      (s) => s.image.names.some((n) => n.endsWith(`/${name}:latest`)) || s.image.id.endsWith(name),
    );
    if (found === undefined) throw new ImageNotKnownError(name);
    return found.image;
  },
  now,
};

const matching = (...filters: string[]) => {
  const matches = compileImageFilters(filters, context);
  return all.filter(matches).map((s) => s.image.names[0] ?? '<none>');
};

describe('images --filter, as podman 4.3.1', () => {
  it('before, since and after compare creation times with a named image', () => {
    expect(matching('before=app')).toEqual(['localhost/bb:latest', '<none>', 'quay.io/libpod/testimage:20220615']);
    expect(matching('since=bb')).toEqual(['localhost/app:latest']);
    expect(matching('after=bb')).toEqual(['localhost/app:latest']);
    expect(() => matching('since=nothere')).toThrow(
      'could not find local image for filter filter "since"="nothere": nothere: image not known',
    );
  });

  it('reference matches the name, its path or its last part, with and without the tag, as a glob', () => {
    expect(matching('reference=app')).toEqual(['localhost/app:latest']);
    expect(matching('reference=localhost/app')).toEqual(['localhost/app:latest']);
    expect(matching('reference=app:latest')).toEqual(['localhost/app:latest']);
    expect(matching('reference=*pp')).toEqual(['localhost/app:latest']);
    expect(matching('reference=localhost/*')).toEqual(['localhost/bb:latest', 'localhost/app:latest']);
    expect(matching('reference=libpod/testimage')).toEqual(['quay.io/libpod/testimage:20220615']);
    expect(matching('reference=bb:lat')).toEqual([]);
    expect(matching('reference=docker.io/library/app')).toEqual([]);
  });

  it('label=KEY and label=KEY=VALUE; label!= negates', () => {
    expect(matching('label=created_by')).toEqual(['localhost/app:latest']);
    expect(matching('label=created_by=me')).toEqual(['localhost/app:latest']);
    expect(matching('label=created_by=x')).toEqual([]);
    expect(matching('label!=created_by')).toEqual([
      'localhost/bb:latest',
      '<none>',
      'quay.io/libpod/testimage:20220615',
    ]);
  });

  it('dangling, intermediate, readonly, containers and manifest are booleans (Go ParseBool)', () => {
    expect(matching('dangling=true')).toEqual(['<none>']);
    expect(matching('dangling=0')).toHaveLength(3);
    expect(matching('containers=true')).toEqual(['quay.io/libpod/testimage:20220615']);
    expect(matching('readonly=true')).toEqual([]);
    expect(matching('manifest=false')).toHaveLength(4);
    expect(() => matching('dangling=maybe')).toThrow(
      'non-boolean value "dangling" for maybe filter: strconv.ParseBool: parsing "maybe": invalid syntax',
    );
    expect(() => matching('dangling=true', 'dangling=false')).toThrow(
      'specifying "dangling" filter more than once with different values is not supported',
    );
    expect(() => matching('containers=external')).toThrow(
      'libimage error: external containers filter without callback',
    );
  });

  it('id is the whole id; digest a prefix of the manifest digest', () => {
    expect(matching(`id=${app.image.id.slice(7)}`)).toEqual(['localhost/app:latest']);
    expect(matching(`id=${app.image.id.slice(7, 19)}`)).toEqual([]);
    expect(matching(`digest=${app.image.manifestDescriptor.digest.slice(0, 20)}`)).toEqual(['localhost/app:latest']);
    expect(() => matching('digest=abc')).toThrow('invalid value "abc" for digest filter');
  });

  it('until takes a duration before now, Unix seconds or an RFC 3339 time', () => {
    expect(matching('until=45m')).toEqual(['localhost/bb:latest', '<none>', 'quay.io/libpod/testimage:20220615']);
    expect(matching('until=2026-12-08T11:15:00Z')).toEqual([
      'localhost/bb:latest',
      '<none>',
      'quay.io/libpod/testimage:20220615',
    ]);
    expect(matching(`until=${Date.parse('2026-12-02T00:00:00Z') / 1000}`)).toEqual([
      '<none>',
      'quay.io/libpod/testimage:20220615',
    ]);
    expect(() => matching('until=xyz')).toThrow('failed to parse value as time or duration: "xyz"');
  });

  it('filters of one key match when any does; every key must match', () => {
    expect(matching('reference=app', 'reference=bb')).toEqual(['localhost/bb:latest', 'localhost/app:latest']);
    expect(matching('reference=bb', 'label=created_by')).toEqual([]);
    expect(matching('label=created_by', 'label=nonexist')).toEqual(['localhost/app:latest']);
  });

  it("refuses what podman refuses, in podman's words", () => {
    expect(() => matching('noeq')).toThrow(
      'invalid image filter "noeq": must be in the format "filter=value or filter!=value"',
    );
    expect(() => matching('bogus=1')).toThrow(HutchError);
    expect(() => matching('bogus=1')).toThrow('unsupported image filter "bogus"');
  });
});

describe('the pieces', () => {
  it("reference candidates are podman's six forms", () => {
    expect(referenceCandidates('quay.io/libpod/testimage:20220615')).toEqual([
      'quay.io/libpod/testimage:20220615',
      'libpod/testimage',
      'testimage:20220615',
      'quay.io/libpod/testimage',
      'libpod/testimage:20220615',
      'testimage',
    ]);
  });

  it("Go's path.Match", () => {
    expect(goPathMatch('*', 'app')).toBe(true);
    expect(goPathMatch('*', 'localhost/app')).toBe(false);
    expect(goPathMatch('a?p', 'app')).toBe(true);
    expect(goPathMatch('[a-c]pp', 'bpp')).toBe(true);
    expect(goPathMatch('[^a-c]pp', 'bpp')).toBe(false);
    expect(goPathMatch('a\\*', 'a*')).toBe(true);
    expect(goPathMatch('a.b', 'axb')).toBe(false);
    expect(goPathMatch('[', 'x')).toBe(false);
  });

  it("Go's durations and until's forms", () => {
    expect(parseGoDuration('1h30m')).toBe(5_400_000);
    expect(parseGoDuration('10s')).toBe(10_000);
    expect(parseGoDuration('1.5h')).toBe(5_400_000);
    expect(parseGoDuration('10')).toBeUndefined();
    expect(parseUntil('2026-12-08', now)).toBe(Date.parse('2026-12-08T00:00:00Z'));
    expect(parseUntil('2026-12-08T01:02:03+01:00', now)).toBe(Date.parse('2026-12-08T00:02:03Z'));
  });
});
