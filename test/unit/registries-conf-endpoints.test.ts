import { describe, expect, it } from 'vitest';
import {
  emptyRegistriesConf,
  readRegistriesFile,
  mergeRegistriesFile,
} from '../../src/image/registries-conf/config.js';
import {
  destinationAccess,
  findRegistry,
  prefixMatch,
  pullSources,
} from '../../src/image/registries-conf/endpoints.js';
import { formatReference, parseReference } from '../../src/image/reference.js';

const FILE = '/home/u/.config/containers/registries.conf';
const DIR = '/home/u/.config/containers/registries.conf.d';
const digest = `sha256:${'b'.repeat(64)}`;

function conf(text: string) {
  return mergeRegistriesFile(emptyRegistriesConf(FILE, DIR), readRegistriesFile(text, FILE));
}

const CONFORMANCE = conf(`unqualified-search-registries = ["docker.io"]
[[registry]]
prefix = "quay.io/libpod"
location = "127.0.0.1:5000/libpod"
insecure = true
[[registry]]
location = "127.0.0.1:5000"
insecure = true
[[registry]]
prefix = "mirrored.io"
location = "upstream.io/base"
[[registry.mirror]]
location = "m1.io"
insecure = true
[[registry.mirror]]
location = "m2.io/cache"
[[registry]]
location = "digests.io"
mirror-by-digest-only = true
[[registry.mirror]]
location = "m3.io"
[[registry]]
prefix = "*.wild.io"
location = "w.io/all"
[[registry]]
location = "blocked.io"
blocked = true
`);

function sources(name: string) {
  return pullSources(CONFORMANCE, parseReference(name)).map((s) => [
    formatReference(s.reference),
    s.insecure,
    s.mirror,
  ]);
}

describe('prefixMatch and findRegistry', () => {
  it('matches at a repository boundary, the longest prefix winning', () => {
    expect(prefixMatch('quay.io/libpod/testimage', 'quay.io/libpod')).toBe(14);
    expect(prefixMatch('quay.io/libpodx/testimage', 'quay.io/libpod')).toBe(-1);
    expect(prefixMatch('quay.io/libpod', 'quay.io/libpod')).toBe(14);
    expect(prefixMatch('a.wild.io/x', '*.wild.io')).toBe(9);
    expect(prefixMatch('wild.io/x', '*.wild.io')).toBe(-1);
    expect(prefixMatch('x.io/a.wild.io', '*.wild.io')).toBe(-1);
    expect(findRegistry(CONFORMANCE, 'quay.io/libpod/testimage')?.location).toBe('127.0.0.1:5000/libpod');
    expect(findRegistry(CONFORMANCE, '127.0.0.1:5000/libpod/testimage')?.prefix).toBe('127.0.0.1:5000');
    expect(findRegistry(CONFORMANCE, 'quay.io/other/x')).toBeUndefined();
  });
});

describe('pullSources', () => {
  it('rewrites the prefix to the location, keeping tag and digest', () => {
    expect(sources('quay.io/libpod/testimage:20220615')).toEqual([
      ['127.0.0.1:5000/libpod/testimage:20220615', true, false],
    ]);
    expect(sources(`quay.io/libpod/testimage@${digest}`)).toEqual([
      [`127.0.0.1:5000/libpod/testimage@${digest}`, true, false],
    ]);
  });

  it('a name no [[registry]] covers is fetched as it is', () => {
    expect(sources('docker.io/library/busybox')).toEqual([['docker.io/library/busybox:latest', false, false]]);
  });

  it('mirrors first, in order, then the location; each with its own insecure', () => {
    expect(sources('mirrored.io/team/app:1')).toEqual([
      ['m1.io/team/app:1', true, true],
      ['m2.io/cache/team/app:1', false, true],
      ['upstream.io/base/team/app:1', false, false],
    ]);
  });

  it('mirror-by-digest-only: mirrors for digests only', () => {
    expect(sources('digests.io/x:1')).toEqual([['digests.io/x:1', false, false]]);
    expect(sources(`digests.io/x@${digest}`)).toEqual([
      [`m3.io/x@${digest}`, false, true],
      [`digests.io/x@${digest}`, false, false],
    ]);
  });

  it('a wildcard prefix replaces the host it matched', () => {
    expect(sources('a.wild.io/team/app:1')).toEqual([['w.io/all/team/app:1', false, false]]);
  });
});

describe('destinationAccess (push, login)', () => {
  it('insecure from the entry; blocked refuses in podman words', () => {
    expect(destinationAccess(CONFORMANCE, '127.0.0.1:5000/x')).toEqual({ insecure: true });
    expect(destinationAccess(CONFORMANCE, 'quay.io/libpod/x')).toEqual({ insecure: true });
    expect(destinationAccess(CONFORMANCE, 'docker.io/library/x')).toEqual({ insecure: false });
    expect(() => destinationAccess(CONFORMANCE, 'blocked.io/x')).toThrow(
      `registry blocked.io is blocked in ${FILE} or ${DIR}`,
    );
  });
});
