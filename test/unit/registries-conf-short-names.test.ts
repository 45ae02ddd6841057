import { describe, expect, it } from 'vitest';
import { emptyRegistriesConf, type RegistriesConf } from '../../src/image/registries-conf/config.js';
import { localCandidates, pullCandidates } from '../../src/image/registries-conf/short-names.js';
import { formatReference } from '../../src/image/reference.js';

const digest = `sha256:${'a'.repeat(64)}`;
const FILE = '/home/u/.config/containers/registries.conf';

function conf(over: Partial<RegistriesConf> = {}): RegistriesConf {
  return { ...emptyRegistriesConf(FILE, '/home/u/.config/containers/registries.conf.d'), searchOrigin: FILE, ...over };
}

const aliases = new Map([
  ['app', { value: 'quay.io/team/app', origin: FILE }],
  ['reset', { value: undefined, origin: FILE }],
]);

describe('localCandidates: what a name may stand for in the store', () => {
  const names = (input: string, c: RegistriesConf) => localCandidates(input, c).map(formatReference);

  it('a short name: its alias, localhost/, each search registry, docker.io', () => {
    const c = conf({ aliases, unqualifiedSearchRegistries: ['registry.example.com', 'docker.io'] });
    expect(names('app', c)).toEqual([
      'quay.io/team/app:latest',
      'localhost/app:latest',
      'registry.example.com/app:latest',
      'docker.io/library/app:latest',
    ]);
    expect(names('team/x:1', c)).toEqual(['localhost/team/x:1', 'registry.example.com/team/x:1', 'docker.io/team/x:1']);
    expect(names(`app@${digest}`, c)[0]).toBe(`quay.io/team/app@${digest}`);
    expect(names('reset', c)).toEqual([
      'localhost/reset:latest',
      'registry.example.com/reset:latest',
      'docker.io/library/reset:latest',
    ]);
  });

  it('a name with a registry stands for itself', () => {
    expect(names('localhost/app', conf({ aliases }))).toEqual(['localhost/app:latest']);
    expect(names('docker.io/busybox', conf())).toEqual(['docker.io/library/busybox:latest']);
  });

  it('refuses a malformed name', () => {
    expect(() => localCandidates('Not A Name', conf())).toThrow(/invalid image reference/);
  });
});

describe('pullCandidates: what a pull tries', () => {
  const tried = (input: string, c: RegistriesConf) => {
    const got = pullCandidates(input, c);
    return { candidates: got.candidates.map(formatReference), description: got.description };
  };

  it('a name with a registry: itself, localhost/ included (podman pulls it from the registry "localhost")', () => {
    expect(tried('quay.io/libpod/testimage:20220615', conf())).toEqual({
      candidates: ['quay.io/libpod/testimage:20220615'],
      description: undefined,
    });
    expect(tried('localhost/app', conf()).candidates).toEqual(['localhost/app:latest']);
  });

  it('an alias alone, with the tag or digest given', () => {
    const c = conf({ aliases, unqualifiedSearchRegistries: ['docker.io'] });
    expect(tried('app:2', c)).toEqual({ candidates: ['quay.io/team/app:2'], description: undefined });
    expect(tried(`app@${digest}`, c).candidates).toEqual([`quay.io/team/app@${digest}`]);
  });

  it('otherwise each search registry in order, said as podman says it', () => {
    const c = conf({ aliases, unqualifiedSearchRegistries: ['example.invalid', '127.0.0.1:5000'] });
    expect(tried('other/thing:1', c)).toEqual({
      candidates: ['example.invalid/other/thing:1', '127.0.0.1:5000/other/thing:1'],
      description: `Resolving "other/thing" using unqualified-search registries (${FILE})`,
    });
    expect(tried('reset', c).candidates).toEqual(['example.invalid/reset:latest', '127.0.0.1:5000/reset:latest']);
  });

  it("without an alias or a search registry: podman's error", () => {
    expect(() => pullCandidates('nope', conf({ searchOrigin: '/etc/containers/registries.conf' }))).toThrow(
      'short-name "nope" did not resolve to an alias and no unqualified-search registries are defined in "/etc/containers/registries.conf"',
    );
    expect(() => pullCandidates('nope:1', conf({ searchOrigin: '' }))).toThrow(
      'short-name "nope:1" did not resolve to an alias and no containers-registries.conf(5) was found',
    );
  });

  it('enforcing mode refuses several candidates (hutch never prompts); one is fine', () => {
    const c = conf({ shortNameMode: 'enforcing', unqualifiedSearchRegistries: ['a.io', 'b.io'] });
    expect(() => pullCandidates('x', c)).toThrow('short-name resolution enforced but cannot prompt without a TTY');
    expect(tried('x', { ...c, unqualifiedSearchRegistries: ['a.io'] }).candidates).toEqual(['a.io/x:latest']);
    expect(tried('x', { ...c, shortNameMode: 'disabled' }).candidates).toEqual(['a.io/x:latest', 'b.io/x:latest']);
  });
});
