import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  readRegistriesConf,
  registriesConfSources,
  SYSTEM_REGISTRIES_CONF,
  SYSTEM_REGISTRIES_CONF_DIR,
} from '../../src/image/registries-conf/load.js';

let base: string;
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'hutch-registries-conf-'));
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

function write(path: string, text: string): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
}

describe('registriesConfSources: the files podman 4.3 reads, rootless', () => {
  it("the user's file under $HOME (not $XDG_CONFIG_HOME) with only the user's drop-ins", () => {
    const home = join(base, 'home');
    const userFile = write(join(home, '.config/containers/registries.conf'), '');
    const sources = registriesConfSources({
      HOME: home,
      XDG_CONFIG_HOME: join(base, 'elsewhere'),
      XDG_CACHE_HOME: join(base, 'cache'),
    });
    expect(sources).toEqual({
      main: userFile,
      mainExplicit: false,
      dropInDirs: [join(home, '.config/containers/registries.conf.d')],
      aliasesFile: join(base, 'cache/containers/short-name-aliases.conf'),
      configDirPath: join(home, '.config/containers/registries.conf.d'),
    });
  });

  it("without the user's file: the system file, the system drop-ins then the user's", () => {
    const home = join(base, 'home');
    write(join(base, 'elsewhere/containers/registries.conf'), '');
    const sources = registriesConfSources({ HOME: home, XDG_CONFIG_HOME: join(base, 'elsewhere') });
    expect(sources.main).toBe(SYSTEM_REGISTRIES_CONF);
    expect(sources.dropInDirs).toEqual([
      SYSTEM_REGISTRIES_CONF_DIR,
      join(home, '.config/containers/registries.conf.d'),
    ]);
    expect(sources.aliasesFile).toBe(join(home, '.cache/containers/short-name-aliases.conf'));
  });

  it('$CONTAINERS_REGISTRIES_CONF names the main file', () => {
    const sources = registriesConfSources({ HOME: base, CONTAINERS_REGISTRIES_CONF: '/x/r.conf' });
    expect(sources.main).toBe('/x/r.conf');
    expect(sources.mainExplicit).toBe(true);
  });
});

describe('readRegistriesConf', () => {
  const sources = (over: Partial<ReturnType<typeof registriesConfSources>> = {}) => ({
    main: join(base, 'registries.conf'),
    mainExplicit: false,
    dropInDirs: [join(base, 'system.d'), join(base, 'user.d')],
    aliasesFile: join(base, 'cache/short-name-aliases.conf'),
    configDirPath: join(base, 'user.d'),
    ...over,
  });

  it('reads the main file, then *.conf drop-ins by name, system before user, then the recorded aliases', () => {
    write(
      join(base, 'registries.conf'),
      'unqualified-search-registries = ["a.io"]\n[aliases]\n"app" = "a.io/app"\n"tool" = "a.io/tool"\n',
    );
    write(join(base, 'system.d/20-b.conf'), 'unqualified-search-registries = ["b.io"]\n');
    write(join(base, 'system.d/10-a.conf'), 'unqualified-search-registries = ["ignored-by-order.io"]\n');
    write(join(base, 'system.d/skip.txt'), 'this is not read');
    mkdirSync(join(base, 'system.d/sub.conf'));
    write(
      join(base, 'user.d/00.conf'),
      '[[registry]]\nlocation = "c.io"\ninsecure = true\n[aliases]\n"tool" = "c.io/tool"\n',
    );
    write(join(base, 'cache/short-name-aliases.conf'), '[aliases]\n"app" = "d.io/app"\n');
    const conf = readRegistriesConf(sources());
    expect(conf.unqualifiedSearchRegistries).toEqual(['b.io']);
    expect(conf.searchOrigin).toBe(join(base, 'system.d/20-b.conf'));
    expect(conf.registries.map((r) => r.prefix)).toEqual(['c.io']);
    expect(conf.aliases.get('tool')?.value).toBe('c.io/tool');
    expect(conf.aliases.get('app')?.value).toBe('d.io/app');
    expect(conf.configPath).toBe(join(base, 'registries.conf'));
  });

  it('a missing main file is an empty one, unless it was named; podman names the main file as the search origin', () => {
    expect(readRegistriesConf(sources()).searchOrigin).toBe('');
    write(join(base, 'registries.conf'), '# all commented out\n');
    expect(readRegistriesConf(sources()).searchOrigin).toBe(join(base, 'registries.conf'));
    expect(() => readRegistriesConf(sources({ main: join(base, 'nope.conf'), mainExplicit: true }))).toThrow(
      `loading registries configuration "${join(base, 'nope.conf')}": no such file`,
    );
  });

  it('a malformed drop-in is named with its line', () => {
    write(join(base, 'user.d/bad.conf'), '\n[[registry]]\nlocation = "x.io\n');
    expect(() => readRegistriesConf(sources())).toThrow(
      `loading registries configuration "${join(base, 'user.d/bad.conf')}": line 3: the string has no closing quote on its line`,
    );
  });

  // root reads a mode-000 file
  it.skipIf(process.getuid?.() === 0)('a file it cannot read is an error, not an empty configuration', () => {
    const file = write(join(base, 'registries.conf'), 'unqualified-search-registries = ["a.io"]\n');
    chmodSync(file, 0);
    expect(() => readRegistriesConf(sources())).toThrow(/loading registries configuration ".*registries.conf": EACCES/);
  });
});
