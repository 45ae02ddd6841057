/**
 * What a registries.conf says (containers-registries.conf(5), version 2, and
 * the version 1 `[registries.search|insecure|block]` tables it replaced), read
 * from its TOML and checked as containers/image checks it, and how the files
 * podman reads combine: a later file's `unqualified-search-registries` and
 * `short-name-mode` replace the earlier's, its `[[registry]]` tables replace
 * those of the same prefix, its aliases those of the same name. Keys this
 * reader does not know are ignored, as podman ignores them.
 */
import { HutchError } from '../../errors.js';
import { hasExplicitTag, isShortName, parseReference, repositoryName } from '../reference.js';
import { lineOf, parseToml, TomlError, tomlType, type TomlTable, type TomlValue } from './toml.js';

export interface Endpoint {
  /** host[:port][/path], no scheme; '' for a wildcard prefix without a location. */
  location: string;
  /** Plain HTTP and unverified TLS allowed. */
  insecure: boolean;
}

export interface RegistryEntry extends Endpoint {
  /** What image names it applies to: `host[:port][/path]`, or `*.domain`. */
  prefix: string;
  blocked: boolean;
  /** Tried in order before the location. */
  mirrors: Endpoint[];
  /** Mirrors only for pulls by digest. */
  mirrorByDigestOnly: boolean;
}

export type ShortNameMode = 'disabled' | 'permissive' | 'enforcing';

/** An alias's value (a repository with its registry), or undefined where a file resets it with "". */
export interface Alias {
  value: string | undefined;
  /** The file that set it. */
  origin: string;
}

/** One file's settings; undefined where the file does not set them. */
export interface RegistriesFile {
  file: string;
  unqualifiedSearchRegistries: string[] | undefined;
  registries: RegistryEntry[];
  aliases: Map<string, Alias>;
  shortNameMode: ShortNameMode | undefined;
}

/** The settings in effect, all files combined. */
export interface RegistriesConf {
  unqualifiedSearchRegistries: string[];
  /** The file the search list comes from ('' when none was read), for podman's messages. */
  searchOrigin: string;
  /** Sorted by prefix, one entry per prefix. */
  registries: RegistryEntry[];
  aliases: Map<string, Alias>;
  shortNameMode: ShortNameMode;
  /** The main file and drop-in directory, as podman names them in "is blocked in A or B". */
  configPath: string;
  configDirPath: string;
}

/** A file's settings are wrong: `loading registries configuration "FILE": WHAT`. */
export function configError(file: string, what: string): HutchError {
  return new HutchError(`loading registries configuration ${JSON.stringify(file)}: ${what}`, {
    hint: 'fix the file (containers-registries.conf(5)); podman reads the same files',
  });
}

// docker/reference's domain: host names and IPv4 (a component per dot), [IPv6], an optional port.
const DOMAIN =
  /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$/;

class Reader {
  constructor(readonly file: string) {}

  fail(table: TomlTable | undefined, key: string | undefined, what: string): HutchError {
    const line = table !== undefined && key !== undefined ? lineOf(table, key) : undefined;
    return configError(this.file, line === undefined ? what : `line ${line}: ${what}`);
  }

  string(table: TomlTable, key: string, where: string): string | undefined {
    const value = table[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string') throw this.typeError(table, key, where, value, 'a string');
    return value;
  }

  bool(table: TomlTable, key: string, where: string): boolean | undefined {
    const value = table[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'boolean') throw this.typeError(table, key, where, value, 'true or false');
    return value;
  }

  strings(table: TomlTable, key: string, where: string): string[] | undefined {
    const value = table[key];
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
      throw this.typeError(table, key, where, value, 'an array of strings');
    }
    return value as string[];
  }

  table(table: TomlTable, key: string, where: string): TomlTable | undefined {
    const value = table[key];
    if (value === undefined) return undefined;
    if (!isTable(value)) throw this.typeError(table, key, where, value, 'a table');
    return value;
  }

  tables(table: TomlTable, key: string, where: string): TomlTable[] {
    const value = table[key];
    if (value === undefined) return [];
    if (!Array.isArray(value) || !value.every(isTable)) {
      throw this.typeError(table, key, where, value, `an array of tables ([[${where}]])`);
    }
    return value as TomlTable[];
  }

  private typeError(table: TomlTable, key: string, where: string, value: TomlValue, wanted: string): HutchError {
    const odd = Array.isArray(value) ? value.find((v) => typeof v !== 'string') : undefined;
    const got = odd === undefined ? tomlType(value) : `an array holding ${tomlType(odd)}`;
    return this.fail(table, key, `${where} must be ${wanted}, not ${got}`);
  }
}

function isTable(value: TomlValue | undefined): value is TomlTable {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** containers/image's parseLocation: no trailing slashes, no scheme. */
function parseLocation(reader: Reader, input: string): string {
  const trimmed = input.replace(/\/+$/, '');
  if (trimmed.startsWith('http://') || trimmed.startsWith('https://')) {
    throw reader.fail(undefined, undefined, `invalid location '${input}': URI schemes are not supported`);
  }
  return trimmed;
}

function readEndpoint(reader: Reader, table: TomlTable, where: string): Endpoint {
  return {
    location: reader.string(table, 'location', `${where}.location`) ?? '',
    insecure: reader.bool(table, 'insecure', `${where}.insecure`) ?? false,
  };
}

/** A [[registry]] table, types first (as podman decodes the whole file before it checks values). */
function readRegistry(reader: Reader, table: TomlTable): RegistryEntry {
  return {
    ...readEndpoint(reader, table, 'registry'),
    prefix: reader.string(table, 'prefix', 'registry.prefix') ?? '',
    blocked: reader.bool(table, 'blocked', 'registry.blocked') ?? false,
    mirrors: reader.tables(table, 'mirror', 'registry.mirror').map((m) => readEndpoint(reader, m, 'registry.mirror')),
    mirrorByDigestOnly: reader.bool(table, 'mirror-by-digest-only', 'registry.mirror-by-digest-only') ?? false,
  };
}

/** containers/image's postProcess of one [[registry]]: locations cleaned, the prefix defaulted and checked. */
function checkRegistry(reader: Reader, entry: RegistryEntry): RegistryEntry {
  const location = parseLocation(reader, entry.location);
  let prefix = entry.prefix;
  if (prefix === '') {
    if (location === '')
      throw reader.fail(undefined, undefined, 'invalid condition: both location and prefix are unset');
    prefix = location;
  } else {
    prefix = parseLocation(reader, prefix);
    if (!prefix.startsWith('*.') && location === '') {
      throw reader.fail(
        undefined,
        undefined,
        'invalid condition: location is unset and prefix is not in the format: *.example.com',
      );
    }
    if (prefix.startsWith('*.') && /[/@:]/.test(prefix)) {
      throw reader.fail(
        undefined,
        undefined,
        `Wildcarded prefix should be in the format: *.example.com. Current prefix ${JSON.stringify(prefix)} is incorrectly formatted`,
      );
    }
  }
  const mirrors = entry.mirrors.map((m) => {
    const mirror = { ...m, location: parseLocation(reader, m.location) };
    if (mirror.location === '') throw reader.fail(undefined, undefined, 'invalid condition: mirror location is unset');
    return mirror;
  });
  return { ...entry, location, prefix, mirrors };
}

/** Registries of one file: each location with one insecure and one blocked setting; the first of a prefix wins. */
function checkRegistries(reader: Reader, registries: RegistryEntry[]): RegistryEntry[] {
  const byLocation = new Map<string, RegistryEntry>();
  for (const entry of registries) {
    const key = entry.location === '' ? entry.prefix : entry.location;
    const other = byLocation.get(key);
    if (other === undefined) {
      byLocation.set(key, entry);
      continue;
    }
    for (const setting of ['insecure', 'blocked'] as const) {
      if (other[setting] !== entry[setting]) {
        throw reader.fail(
          undefined,
          undefined,
          `registry '${entry.location}' is defined multiple times with conflicting '${setting}' setting`,
        );
      }
    }
  }
  const unique = new Map<string, RegistryEntry>();
  for (const entry of registries) if (!unique.has(entry.prefix)) unique.set(entry.prefix, entry);
  return [...unique.values()].sort((a, b) => compare(a.prefix, b.prefix));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** An alias's name: a repository without registry, tag or digest. */
function aliasNameProblem(name: string): string | undefined {
  try {
    parseReference(name);
  } catch {
    return `cannot parse short name: ${JSON.stringify(name)}`;
  }
  if (name.includes('@')) return `invalid short name ${JSON.stringify(name)}: must not contain digest`;
  if (hasExplicitTag(name)) return `invalid short name ${JSON.stringify(name)}: must not contain tag`;
  if (!isShortName(name)) return `invalid short name ${JSON.stringify(name)}: must not contain registry`;
  return undefined;
}

/** An alias's value, normalized as docker does (docker.io/alpine -> docker.io/library/alpine). */
function aliasValue(value: string): { value: string } | { problem: string } {
  let ref;
  try {
    ref = parseReference(value);
  } catch {
    return { problem: `parsing alias ${JSON.stringify(value)}: invalid reference format` };
  }
  if (value.includes('@')) return { problem: `invalid alias ${JSON.stringify(value)}: must not contain digest` };
  if (hasExplicitTag(value)) return { problem: `invalid alias ${JSON.stringify(value)}: must not contain tag` };
  if (isShortName(value))
    return { problem: `invalid alias ${JSON.stringify(value)}: must contain registry and repository` };
  return { value: repositoryName(ref) };
}

/** Reads the [aliases] table of a file (registries.conf or short-name-aliases.conf). */
function readAliases(reader: Reader, root: TomlTable): Map<string, Alias> {
  const aliases = new Map<string, Alias>();
  const table = reader.table(root, 'aliases', 'aliases');
  if (table === undefined) return aliases;
  const problems: string[] = [];
  for (const [name, raw] of Object.entries(table)) {
    if (typeof raw !== 'string')
      throw reader.fail(table, name, `aliases.${JSON.stringify(name)} must be a string, not ${tomlType(raw)}`);
    const nameProblem = aliasNameProblem(name);
    if (nameProblem !== undefined) problems.push(nameProblem);
    // "" resets an alias an earlier file set.
    if (raw === '') {
      aliases.set(name, { value: undefined, origin: reader.file });
      continue;
    }
    const parsed = aliasValue(raw);
    if ('problem' in parsed) problems.push(parsed.problem);
    else aliases.set(name, { value: parsed.value, origin: reader.file });
  }
  if (problems.length > 0)
    throw reader.fail(undefined, undefined, `validating short-name aliases: ${problems.join('; ')}`);
  return aliases;
}

function parse(text: string, file: string): TomlTable {
  try {
    return parseToml(text);
  } catch (error) {
    if (error instanceof TomlError) throw configError(file, error.message);
    throw error;
  }
}

/** The version 1 format: [registries.search] registries = [...], and .insecure, .block. */
function readVersion1(
  reader: Reader,
  root: TomlTable,
): { search: string[] | undefined; registries: RegistryEntry[] } | undefined {
  const v1 = reader.table(root, 'registries', 'registries');
  if (v1 === undefined) return undefined;
  const list = (kind: string) => {
    const table = reader.table(v1, kind, `registries.${kind}`);
    return table === undefined ? undefined : reader.strings(table, 'registries', `registries.${kind}.registries`);
  };
  const search = list('search');
  const insecure = list('insecure') ?? [];
  const block = list('block') ?? [];
  if ((search ?? []).length === 0 && insecure.length === 0 && block.length === 0) return undefined;
  const byLocation = new Map<string, RegistryEntry>();
  const entry = (location: string): RegistryEntry => {
    const parsed = parseLocation(reader, location);
    if (parsed === '') throw reader.fail(undefined, undefined, 'invalid location: cannot be empty');
    let found = byLocation.get(parsed);
    if (found === undefined) {
      found = {
        prefix: parsed,
        location: parsed,
        insecure: false,
        blocked: false,
        mirrors: [],
        mirrorByDigestOnly: false,
      };
      byLocation.set(parsed, found);
    }
    return found;
  };
  for (const location of block) entry(location).blocked = true;
  for (const location of insecure) entry(location).insecure = true;
  return { search, registries: [...byLocation.values()] };
}

/**
 * One registries.conf (or drop-in), checked. A drop-in must use version 2.
 * Throws `loading registries configuration "FILE": [line N: ]WHAT`.
 */
export function readRegistriesFile(text: string, file: string, options: { dropIn?: boolean } = {}): RegistriesFile {
  const reader = new Reader(file);
  const root = parse(text, file);
  let search = reader.strings(root, 'unqualified-search-registries', 'unqualified-search-registries');
  const modeText = reader.string(root, 'short-name-mode', 'short-name-mode');
  let registries = reader.tables(root, 'registry', 'registry').map((t) => readRegistry(reader, t));
  const aliases = readAliases(reader, root);
  const v1 = readVersion1(reader, root);
  if (v1 !== undefined) {
    if (options.dropIn === true) throw reader.fail(undefined, undefined, 'registry must be in v2 format but is in v1');
    if ((search ?? []).length > 0 || registries.length > 0 || aliases.size > 0 || modeText !== undefined) {
      throw reader.fail(undefined, undefined, 'mixing sysregistry v1/v2 is not supported');
    }
    search = v1.search;
    registries = v1.registries;
  }
  registries = checkRegistries(
    reader,
    registries.map((r) => checkRegistry(reader, r)),
  );
  if (search !== undefined) {
    search = search.map((entry) => {
      const location = parseLocation(reader, entry);
      if (!DOMAIN.test(location)) {
        throw reader.fail(
          undefined,
          undefined,
          `Invalid unqualified-search-registries entry ${JSON.stringify(location)}`,
        );
      }
      return location;
    });
  }
  let shortNameMode: ShortNameMode | undefined;
  if (modeText !== undefined && modeText !== '') {
    if (modeText !== 'disabled' && modeText !== 'permissive' && modeText !== 'enforcing') {
      throw reader.fail(root, 'short-name-mode', `invalid short-name mode: ${JSON.stringify(modeText)}`);
    }
    shortNameMode = modeText;
  }
  return { file, unqualifiedSearchRegistries: search, registries, aliases, shortNameMode };
}

/** short-name-aliases.conf: only its [aliases] table counts. */
export function readAliasesFile(text: string, file: string): Map<string, Alias> {
  const reader = new Reader(file);
  return readAliases(reader, parse(text, file));
}

/** Settings before any file: no search list, no registries, permissive. */
export function emptyRegistriesConf(configPath = '', configDirPath = ''): RegistriesConf {
  return {
    unqualifiedSearchRegistries: [],
    searchOrigin: '',
    registries: [],
    aliases: new Map(),
    shortNameMode: 'permissive',
    configPath,
    configDirPath,
  };
}

/** conf with `file` read over it (containers/image's updateWithConfigurationFrom). */
export function mergeRegistriesFile(conf: RegistriesConf, file: RegistriesFile): RegistriesConf {
  const byPrefix = new Map(conf.registries.map((r) => [r.prefix, r]));
  for (const entry of file.registries) byPrefix.set(entry.prefix, entry);
  const search = file.unqualifiedSearchRegistries;
  return {
    ...conf,
    unqualifiedSearchRegistries: search ?? conf.unqualifiedSearchRegistries,
    searchOrigin: search !== undefined ? file.file : conf.searchOrigin,
    registries: [...byPrefix.values()].sort((a, b) => compare(a.prefix, b.prefix)),
    aliases: new Map([...conf.aliases, ...file.aliases]),
    shortNameMode: file.shortNameMode ?? conf.shortNameMode,
  };
}
