/**
 * The scopes the executor keeps while it walks a stage: the global ARGs
 * (before the first FROM, usable in FROM), a stage's ARGs and ENVs, and what
 * a RUN step sees; with the ARGs BuildKit predefines (platform, proxy).
 */
import { expandWord, type LexOptions, type Variables } from './expand.js';

/** `KEY=VALUE` → [KEY, VALUE]; `KEY` → [KEY, '']. */
export function splitEnvEntry(entry: string): [string, string] {
  const eq = entry.indexOf('=');
  return eq < 0 ? [entry, ''] : [entry.slice(0, eq), entry.slice(eq + 1)];
}

/** The platform a build runs on and the one it builds for, as OCI names them. */
export interface PlatformPair {
  build: { os: string; architecture: string; variant?: string };
  target: { os: string; architecture: string; variant?: string };
}

/** ARGs BuildKit defines in the global scope without a declaration (a stage must still `ARG` them). */
export const PLATFORM_ARGS = [
  'TARGETPLATFORM',
  'TARGETOS',
  'TARGETARCH',
  'TARGETVARIANT',
  'BUILDPLATFORM',
  'BUILDOS',
  'BUILDARCH',
  'BUILDVARIANT',
] as const;

/**
 * Proxy ARGs: a RUN sees them when given with --build-arg, without an ARG
 * line, and they stay out of the image's history (Docker's rule).
 */
export const PROXY_ARGS = [
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'FTP_PROXY',
  'ftp_proxy',
  'NO_PROXY',
  'no_proxy',
  'ALL_PROXY',
  'all_proxy',
] as const;

function platformName(p: { os: string; architecture: string; variant?: string }): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** The values of the platform ARGs for a build. */
export function platformArgs(platforms: PlatformPair): Map<string, string> {
  const { build, target } = platforms;
  return new Map([
    ['TARGETPLATFORM', platformName(target)],
    ['TARGETOS', target.os],
    ['TARGETARCH', target.architecture],
    ['TARGETVARIANT', target.variant ?? ''],
    ['BUILDPLATFORM', platformName(build)],
    ['BUILDOS', build.os],
    ['BUILDARCH', build.architecture],
    ['BUILDVARIANT', build.variant ?? ''],
  ]);
}

/**
 * The global scope: ARGs declared before the first FROM, the platform ARGs,
 * and the --build-arg values. FROM lines (image, --platform) and
 * `COPY --from=` are expanded in it.
 */
export class GlobalScope implements Variables {
  private readonly values = new Map<string, string | undefined>();
  /** --build-arg values that some ARG (global or in a stage) declared. */
  private readonly consumed = new Set<string>();

  constructor(
    readonly buildArgs: ReadonlyMap<string, string>,
    platforms: PlatformPair,
  ) {
    for (const [name, value] of platformArgs(platforms)) {
      this.values.set(name, buildArgs.get(name) ?? value);
    }
  }

  /**
   * `ARG name[=default]` before the first FROM: a --build-arg wins, else the
   * default expanded with the global ARGs declared so far. Returns the value.
   */
  declare(name: string, rawDefault: string | undefined, options: LexOptions = {}): string | undefined {
    let value: string | undefined;
    if (this.buildArgs.has(name)) {
      value = this.buildArgs.get(name);
      this.consumed.add(name);
    } else if (rawDefault !== undefined) {
      value = expandWord(rawDefault, this, options);
    }
    this.values.set(name, value);
    return value;
  }

  get(name: string): string | undefined {
    return this.values.get(name);
  }

  /** Whether the global scope knows the name (declared, or a platform ARG). */
  has(name: string): boolean {
    return this.values.has(name);
  }

  markConsumed(name: string): void {
    this.consumed.add(name);
  }

  /** --build-arg names no ARG declared (Docker warns about them), in the order given. */
  unconsumed(): string[] {
    return [...this.buildArgs.keys()].filter(
      (name) => !this.consumed.has(name) && !(PROXY_ARGS as readonly string[]).includes(name),
    );
  }
}

/**
 * What one stage sees, step by step: its image's Env (from the base image,
 * then ENV lines) and the ARGs it declared. An ENV always overrides an ARG of
 * the same name (Docker's rule). The executor seeds it with the base image's
 * Env and calls setEnv/declareArg as it dispatches ENV and ARG lines.
 */
export class StageScope implements Variables {
  private readonly envEntries: [string, string][] = [];
  private readonly args = new Map<string, string | undefined>();
  private readonly argOrder: string[] = [];

  constructor(
    readonly global: GlobalScope,
    baseEnv: readonly string[] = [],
  ) {
    for (const entry of baseEnv) {
      const [k, v] = splitEnvEntry(entry);
      this.setEnv(k, v);
    }
  }

  /** A copy, for a stage built FROM this one (it inherits Env, not ARGs). */
  childStage(): StageScope {
    return new StageScope(this.global, this.env());
  }

  get(name: string): string | undefined {
    const env = this.envEntries.find(([k]) => k === name);
    if (env !== undefined) return env[1];
    return this.args.get(name);
  }

  /** Sets an Env variable, replacing it in place if present (so image Env keeps its order). */
  setEnv(name: string, value: string): void {
    const at = this.envEntries.findIndex(([k]) => k === name);
    if (at >= 0) this.envEntries[at] = [name, value];
    else this.envEntries.push([name, value]);
  }

  /**
   * `ARG name[=default]` in the stage: a --build-arg wins; else the default,
   * expanded with this scope; else the global value of that name (a global
   * ARG must be redeclared in the stage to be seen there). Returns the value
   * (undefined: declared, unset).
   */
  declareArg(name: string, rawDefault: string | undefined, options: LexOptions = {}): string | undefined {
    let value: string | undefined;
    if (this.global.buildArgs.has(name)) {
      value = this.global.buildArgs.get(name);
      this.global.markConsumed(name);
    } else if (rawDefault !== undefined) {
      value = expandWord(rawDefault, this, options);
    } else if (this.global.has(name)) {
      value = this.global.get(name);
    }
    if (!this.args.has(name)) this.argOrder.push(name);
    this.args.set(name, value);
    return value;
  }

  /** The image config's Env, `KEY=VALUE`, in order. */
  env(): string[] {
    return this.envEntries.map(([k, v]) => `${k}=${v}`);
  }

  /** ARGs declared in this stage that have a value, in declaration order. */
  declaredArgs(): [string, string][] {
    return this.argOrder
      .filter((name) => this.args.get(name) !== undefined)
      .map((name) => [name, this.args.get(name) as string]);
  }

  /**
   * The environment of a RUN step: the Env, then each declared ARG an Env
   * does not override, then proxy --build-args (undeclared, kept out of
   * history by the executor).
   */
  runEnv(): string[] {
    const out = this.env();
    const envNames = new Set(this.envEntries.map(([k]) => k));
    for (const [name, value] of this.declaredArgs()) if (!envNames.has(name)) out.push(`${name}=${value}`);
    for (const name of PROXY_ARGS) {
      const value = this.global.buildArgs.get(name);
      if (value !== undefined && !envNames.has(name) && !this.args.has(name)) out.push(`${name}=${value}`);
    }
    return out;
  }
}
