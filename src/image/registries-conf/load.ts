/**
 * Which registries.conf files apply, read in the order podman 4.3 (its
 * containers/image) reads them as a rootless user:
 *
 * 1. the main file: $CONTAINERS_REGISTRIES_CONF when set (then it must
 *    exist), else $HOME/.config/containers/registries.conf if it exists, else
 *    /etc/containers/registries.conf (a missing one counts as empty). podman
 *    4.3 looks under $HOME, not $XDG_CONFIG_HOME.
 * 2. the drop-ins, `*.conf` in name order: with the user's main file only
 *    $HOME/.config/containers/registries.conf.d, otherwise
 *    /etc/containers/registries.conf.d then the user's directory.
 * 3. the aliases podman records, $XDG_CACHE_HOME/containers/short-name-aliases.conf
 *    ($HOME/.cache when unset; /var/cache for root): they win over the
 *    [aliases] of registries.conf.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { withContext } from '../../errors.js';
import { ifExists } from '../../fs/missing.js';
import { currentIdentity } from '../../host/identity.js';
import { DOCKER_HUB } from '../reference.js';
import {
  configError,
  emptyRegistriesConf,
  mergeRegistriesFile,
  readAliasesFile,
  readRegistriesFile,
  type RegistriesConf,
} from './config.js';

export const SYSTEM_REGISTRIES_CONF = '/etc/containers/registries.conf';
export const SYSTEM_REGISTRIES_CONF_DIR = '/etc/containers/registries.conf.d';

/** Where the settings come from, for one environment. */
export interface RegistriesConfSources {
  main: string;
  /** Named by the environment: a missing file is an error, not an empty configuration. */
  mainExplicit: boolean;
  /** Drop-in directories, read in this order. */
  dropInDirs: string[];
  /** The short-name-aliases.conf podman maintains. */
  aliasesFile: string;
  /** The directory podman names in its messages. */
  configDirPath: string;
}

export function registriesConfSources(env: NodeJS.ProcessEnv = process.env): RegistriesConfSources {
  const home = env.HOME !== undefined && env.HOME !== '' ? env.HOME : homedir();
  const userFile = join(home, '.config', 'containers', 'registries.conf');
  const userDir = join(home, '.config', 'containers', 'registries.conf.d');
  const cache = env.XDG_CACHE_HOME?.startsWith('/') === true ? env.XDG_CACHE_HOME : join(home, '.cache');
  const aliasesFile = currentIdentity(env).root
    ? '/var/cache/containers/short-name-aliases.conf'
    : join(cache, 'containers', 'short-name-aliases.conf');
  const explicit = env.CONTAINERS_REGISTRIES_CONF;
  if (explicit !== undefined && explicit !== '') {
    return {
      main: explicit,
      mainExplicit: true,
      dropInDirs: [SYSTEM_REGISTRIES_CONF_DIR, userDir],
      aliasesFile,
      configDirPath: userDir,
    };
  }
  if (exists(userFile)) {
    return { main: userFile, mainExplicit: false, dropInDirs: [userDir], aliasesFile, configDirPath: userDir };
  }
  return {
    main: SYSTEM_REGISTRIES_CONF,
    mainExplicit: false,
    dropInDirs: [SYSTEM_REGISTRIES_CONF_DIR, userDir],
    aliasesFile,
    configDirPath: userDir,
  };
}

/** podman only stats the user's file: one that is there but unreadable is picked, and reading it fails. */
function exists(file: string): boolean {
  try {
    return ifExists(() => statSync(file)) !== undefined;
  } catch {
    return true;
  }
}

function readText(file: string): string | undefined {
  try {
    return ifExists(() => readFileSync(file, 'utf8'));
  } catch (error) {
    throw withContext('registries', `loading registries configuration ${JSON.stringify(file)}`, error);
  }
}

function dropIns(dir: string): string[] {
  let names: string[] | undefined;
  try {
    names = ifExists(() => readdirSync(dir, { withFileTypes: true }))
      ?.filter((e) => !e.isDirectory() && e.name.endsWith('.conf'))
      .map((e) => e.name);
  } catch (error) {
    throw withContext('registries', `reading registries.conf.d ${JSON.stringify(dir)}`, error);
  }
  return (names ?? []).sort().map((name) => join(dir, name));
}

/** Reads every file of `sources` and combines them. Throws on a malformed one, naming it (and the line). */
export function readRegistriesConf(sources: RegistriesConfSources): RegistriesConf {
  let conf = emptyRegistriesConf(sources.main, sources.configDirPath);
  const mainText = readText(sources.main);
  if (mainText === undefined) {
    if (sources.mainExplicit) throw configError(sources.main, 'no such file');
  } else {
    conf = mergeRegistriesFile(conf, readRegistriesFile(mainText, sources.main));
    // podman names the main file in its messages even when it sets no search list.
    if (conf.searchOrigin === '') conf = { ...conf, searchOrigin: sources.main };
  }
  for (const dir of sources.dropInDirs) {
    for (const file of dropIns(dir)) {
      const text = readText(file);
      // Gone between the listing and the read: as podman, not an error.
      if (text === undefined) continue;
      conf = mergeRegistriesFile(conf, readRegistriesFile(text, file, { dropIn: true }));
    }
  }
  const aliasesText = readText(sources.aliasesFile);
  if (aliasesText !== undefined) {
    conf = { ...conf, aliases: new Map([...conf.aliases, ...readAliasesFile(aliasesText, sources.aliasesFile)]) };
  }
  return conf;
}

const cache = new Map<string, RegistriesConf>();

/** The settings in effect for this environment; read once per process. */
export function loadRegistriesConf(env: NodeJS.ProcessEnv = process.env): RegistriesConf {
  const sources = registriesConfSources(env);
  const key = JSON.stringify(sources);
  let conf = cache.get(key);
  if (conf === undefined) {
    conf = readRegistriesConf(sources);
    cache.set(key, conf);
  }
  return conf;
}

/**
 * The registry hutch's own verbs (artifact, login without a registry, build
 * caches) complete a short name with: the first unqualified-search registry,
 * docker.io when there is none.
 */
export function defaultRegistry(env: NodeJS.ProcessEnv = process.env): string {
  return loadRegistriesConf(env).unqualifiedSearchRegistries[0] ?? DOCKER_HUB;
}
