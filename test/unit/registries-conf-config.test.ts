import { describe, expect, it } from 'vitest';
import {
  emptyRegistriesConf,
  mergeRegistriesFile,
  readAliasesFile,
  readRegistriesFile,
} from '../../src/image/registries-conf/config.js';

const FILE = '/home/u/.config/containers/registries.conf';

function problem(text: string, options: { dropIn?: boolean } = {}): string {
  try {
    readRegistriesFile(text, FILE, options);
  } catch (error) {
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error(`read without an error: ${JSON.stringify(text)}`);
}

describe('readRegistriesFile', () => {
  it("reads the conformance kit's file: search list, prefix mapped to a location, insecure", () => {
    const file = readRegistriesFile(
      `unqualified-search-registries = ["docker.io"]
[[registry]]
prefix = "quay.io/libpod"
location = "127.0.0.1:5000/libpod/"
insecure = true
[[registry]]
location = "127.0.0.1:5000"
insecure = true
`,
      FILE,
    );
    expect(file.unqualifiedSearchRegistries).toEqual(['docker.io']);
    expect(file.registries).toEqual([
      {
        prefix: '127.0.0.1:5000',
        location: '127.0.0.1:5000',
        insecure: true,
        blocked: false,
        mirrors: [],
        mirrorByDigestOnly: false,
      },
      {
        prefix: 'quay.io/libpod',
        location: '127.0.0.1:5000/libpod',
        insecure: true,
        blocked: false,
        mirrors: [],
        mirrorByDigestOnly: false,
      },
    ]);
  });

  it('reads mirrors, blocked, mirror-by-digest-only, aliases (normalized) and short-name-mode', () => {
    const file = readRegistriesFile(
      `short-name-mode = "enforcing"
[[registry]]
location = "example.com"
blocked = true
mirror-by-digest-only = true
[[registry.mirror]]
location = "mirror.example.com/x"
insecure = true
[aliases]
"alpine" = "docker.io/alpine"
"tool" = "quay.io/team/tool"
"gone" = ""
`,
      FILE,
    );
    expect(file.registries[0]).toMatchObject({
      prefix: 'example.com',
      blocked: true,
      mirrorByDigestOnly: true,
      mirrors: [{ location: 'mirror.example.com/x', insecure: true }],
    });
    expect(file.shortNameMode).toBe('enforcing');
    expect(file.unqualifiedSearchRegistries).toBeUndefined();
    expect([...file.aliases]).toEqual([
      ['alpine', { value: 'docker.io/library/alpine', origin: FILE }],
      ['tool', { value: 'quay.io/team/tool', origin: FILE }],
      ['gone', { value: undefined, origin: FILE }],
    ]);
  });

  it('keeps the first [[registry]] of a prefix; an empty search list is set, not absent', () => {
    const file = readRegistriesFile(
      'unqualified-search-registries = []\n[[registry]]\nprefix = "a.io"\nlocation = "one.io"\n[[registry]]\nprefix = "a.io"\nlocation = "two.io"\n',
      FILE,
    );
    expect(file.registries.map((r) => r.location)).toEqual(['one.io']);
    expect(file.unqualifiedSearchRegistries).toEqual([]);
  });

  it('converts the version 1 tables', () => {
    const file = readRegistriesFile(
      `[registries.search]
registries = ["a.io", "b.io"]
[registries.insecure]
registries = ["b.io"]
[registries.block]
registries = ["c.io"]
`,
      FILE,
    );
    expect(file.unqualifiedSearchRegistries).toEqual(['a.io', 'b.io']);
    expect(file.registries.map((r) => [r.prefix, r.insecure, r.blocked])).toEqual([
      ['b.io', true, false],
      ['c.io', false, true],
    ]);
  });

  it('says what is wrong in one line naming the file, and the line for a type', () => {
    const at = (what: string) => `loading registries configuration "${FILE}": ${what}`;
    expect(problem('unqualified-search-registries = ["docker.io"\n[[registry]]\n')).toBe(
      at('line 2: expected "," or "]" in the array, not "["'),
    );
    expect(problem('[[registry]]\nlocation = true\n')).toBe(
      at('line 2: registry.location must be a string, not a boolean'),
    );
    expect(problem('[[registry]]\nprefix = "x.io"\nblocked = "yes"\n')).toBe(
      at('line 3: registry.blocked must be true or false, not a string'),
    );
    expect(problem('unqualified-search-registries = "docker.io"\n')).toBe(
      at('line 1: unqualified-search-registries must be an array of strings, not a string'),
    );
    expect(problem('unqualified-search-registries = [1]\n')).toBe(
      at('line 1: unqualified-search-registries must be an array of strings, not an array holding an integer'),
    );
    expect(problem('registry = "x"\n')).toBe(
      at('line 1: registry must be an array of tables ([[registry]]), not a string'),
    );
    expect(problem('[aliases]\n"x" = 1\n')).toBe(at('line 2: aliases."x" must be a string, not an integer'));
    expect(problem('short-name-mode = "strict"\n')).toBe(at('line 1: invalid short-name mode: "strict"'));
  });

  it("refuses what containers/image refuses, in podman's words", () => {
    const at = (what: string) => `loading registries configuration "${FILE}": ${what}`;
    expect(problem('unqualified-search-registries = ["http://x"]\n')).toBe(
      at("invalid location 'http://x': URI schemes are not supported"),
    );
    expect(problem('unqualified-search-registries = ["a/b"]\n')).toBe(
      at('Invalid unqualified-search-registries entry "a/b"'),
    );
    expect(problem('[[registry]]\nprefix = "x.io"\n')).toBe(
      at('invalid condition: location is unset and prefix is not in the format: *.example.com'),
    );
    expect(problem('[[registry]]\ninsecure = true\n')).toBe(
      at('invalid condition: both location and prefix are unset'),
    );
    expect(problem('[[registry]]\nlocation = "https://x.io"\n')).toBe(
      at("invalid location 'https://x.io': URI schemes are not supported"),
    );
    expect(problem('[[registry]]\nlocation = "x.io"\n[[registry.mirror]]\ninsecure = true\n')).toBe(
      at('invalid condition: mirror location is unset'),
    );
    expect(
      problem('[[registry]]\nlocation = "x.io"\ninsecure = true\n[[registry]]\nprefix = "y.io"\nlocation = "x.io"\n'),
    ).toBe(at("registry 'x.io' is defined multiple times with conflicting 'insecure' setting"));
    expect(problem('[[registry]]\nprefix = "*.x.io/p"\nlocation = "y.io"\n')).toBe(
      at(
        'Wildcarded prefix should be in the format: *.example.com. Current prefix "*.x.io/p" is incorrectly formatted',
      ),
    );
    expect(problem('[aliases]\n"a" = "b"\n')).toBe(
      at('validating short-name aliases: invalid alias "b": must contain registry and repository'),
    );
    expect(problem('[aliases]\n"quay.io/a" = "quay.io/b"\n"c:1" = "quay.io/c:1"\n')).toBe(
      at(
        'validating short-name aliases: invalid short name "quay.io/a": must not contain registry; ' +
          'invalid short name "c:1": must not contain tag; invalid alias "quay.io/c:1": must not contain tag',
      ),
    );
    expect(problem('[registries.search]\nregistries = ["a.io"]\n[[registry]]\nlocation = "b.io"\n')).toBe(
      at('mixing sysregistry v1/v2 is not supported'),
    );
    expect(problem('[registries.search]\nregistries = ["a.io"]\n', { dropIn: true })).toBe(
      at('registry must be in v2 format but is in v1'),
    );
  });

  it('ignores keys it does not know, as podman does', () => {
    const file = readRegistriesFile(
      'foo = 1\ncredential-helpers = ["x"]\n[[registry]]\nlocation = "x.io"\nbar = 2\n',
      FILE,
    );
    expect(file.registries.map((r) => r.location)).toEqual(['x.io']);
  });
});

describe('mergeRegistriesFile: a later file over an earlier one', () => {
  it('replaces the search list only when the later file sets one, merges registries by prefix and aliases by name', () => {
    const main = readRegistriesFile(
      'unqualified-search-registries = ["a.io"]\n[[registry]]\nlocation = "x.io"\n[[registry]]\nlocation = "y.io"\n[aliases]\n"p" = "a.io/p"\n"q" = "a.io/q"\n',
      '/etc/containers/registries.conf',
    );
    const dropIn = readRegistriesFile(
      '[[registry]]\nlocation = "x.io"\ninsecure = true\n[aliases]\n"q" = ""\n"r" = "b.io/r"\n',
      '/etc/containers/registries.conf.d/10.conf',
    );
    let conf = mergeRegistriesFile(emptyRegistriesConf(), main);
    conf = mergeRegistriesFile(conf, dropIn);
    expect(conf.unqualifiedSearchRegistries).toEqual(['a.io']);
    expect(conf.searchOrigin).toBe('/etc/containers/registries.conf');
    expect(conf.registries.map((r) => [r.prefix, r.insecure])).toEqual([
      ['x.io', true],
      ['y.io', false],
    ]);
    expect(conf.aliases.get('p')?.value).toBe('a.io/p');
    expect(conf.aliases.get('q')?.value).toBeUndefined();
    expect(conf.aliases.get('r')).toEqual({ value: 'b.io/r', origin: '/etc/containers/registries.conf.d/10.conf' });

    const empties = readRegistriesFile('unqualified-search-registries = []\nshort-name-mode = "disabled"\n', '/z.conf');
    conf = mergeRegistriesFile(conf, empties);
    expect(conf.unqualifiedSearchRegistries).toEqual([]);
    expect(conf.searchOrigin).toBe('/z.conf');
    expect(conf.shortNameMode).toBe('disabled');
  });

  it('reads short-name-aliases.conf for its aliases alone', () => {
    const aliases = readAliasesFile('[aliases]\n"app" = "quay.io/team/app"\n', '/cache/short-name-aliases.conf');
    expect([...aliases]).toEqual([['app', { value: 'quay.io/team/app', origin: '/cache/short-name-aliases.conf' }]]);
  });
});
