// podman build's flags that need more than commander gives: the optional values of
// --layers, --pull and --tls-verify (pflag takes them only as --flag=VALUE, so in
// `--layers .` the dot is the context), the three spellings of the pull policy, and
// the list flags that take commas (--cap-add a,b).
import { HutchError } from '../errors.js';
import type { PullPolicy } from '../build/options.js';

/** Go's strconv.ParseBool, which pflag's bool flags use. */
export function goBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

/** A flag whose value is optional: what it means alone, its values, and their names for a refusal. */
export interface OptionalValueFlag<T> {
  name: string;
  alone: T;
  parse: (text: string) => T | undefined;
  values: string;
}

/**
 * The value commander gave an optional-value flag, read as pflag reads it:
 * given as --flag=VALUE it is the flag's (refused when it is none of its
 * values); given as a separate word that is no value of the flag, the word was
 * the next argument (the context) and the flag stood alone. Returns the flag's
 * value and the argument taken back.
 */
export function takeBack<T>(
  flag: OptionalValueFlag<T>,
  raw: string | true | undefined,
  argv: readonly string[],
): { value: T | undefined; positional: string | undefined } {
  if (raw === undefined) return { value: undefined, positional: undefined };
  if (raw === true) return { value: flag.alone, positional: undefined };
  const parsed = flag.parse(raw);
  if (parsed !== undefined) return { value: parsed, positional: undefined };
  if (argv.includes(`${flag.name}=${raw}`)) {
    throw new HutchError(`invalid argument ${JSON.stringify(raw)} for ${JSON.stringify(flag.name)} flag`, {
      hint: `${flag.name} takes ${flag.values}`,
    });
  }
  return { value: flag.alone, positional: raw };
}

/** --pull's values: the flag alone or true and always pull first; never never pulls; false, missing and newer pull what is missing. */
export function pullValue(text: string): PullPolicy | undefined {
  const value = text.trim().toLowerCase();
  if (value === 'true' || value === 'always') return 'always';
  if (value === 'never') return 'never';
  // podman 4.3.1 reads newer as missing: it has no policy that asks the registry for a newer image.
  if (value === 'false' || value === 'missing' || value === 'newer') return 'missing';
  return undefined;
}

export const LAYERS: OptionalValueFlag<boolean> = {
  name: '--layers',
  alone: true,
  parse: goBool,
  values: 'true or false (1, t, TRUE, 0, f, FALSE)',
};

export const TLS_VERIFY: OptionalValueFlag<boolean> = { ...LAYERS, name: '--tls-verify' };

export const PULL: OptionalValueFlag<PullPolicy> = {
  name: '--pull',
  alone: 'always',
  parse: pullValue,
  values: 'always, missing or never (true, false, newer)',
};

export interface PullFlags {
  pull: PullPolicy | undefined;
  pullAlways: boolean;
  pullNever: boolean;
}

/** One of --pull[=POLICY], --pull-always and --pull-never; missing without any. */
export function pullPolicyOf(flags: PullFlags): PullPolicy {
  const given = [flags.pull !== undefined, flags.pullAlways, flags.pullNever].filter(Boolean).length;
  if (given > 1) throw new HutchError("can only set one of 'pull' or 'pull-always' or 'pull-never'");
  if (flags.pullAlways) return 'always';
  if (flags.pullNever) return 'never';
  return flags.pull ?? 'missing';
}

/**
 * --layers, else BUILDAH_LAYERS (false or 0 turn layers off), else on: podman's
 * default. --squash and --squash-all keep no intermediate layers either.
 */
export function layersOf(
  flag: boolean | undefined,
  squash: { squash: boolean; squashAll: boolean },
  env: NodeJS.ProcessEnv,
): boolean {
  // podman refuses --squash with --layers (=true) and with --squash-all; --layers=false --squash is one request.
  if ((squash.squash && flag === true) || (squash.squash && squash.squashAll)) {
    throw new HutchError('cannot specify --squash with --layers and --squash-all with --squash');
  }
  if (squash.squash || squash.squashAll) return false;
  if (flag !== undefined) return flag;
  const fromEnv = env.BUILDAH_LAYERS ?? '';
  return !(fromEnv.toLowerCase() === 'false' || fromEnv === '0');
}

/** A pflag string slice: repeatable, and each value split at commas. */
export function splitList(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(',')).filter((v) => v !== '');
}
