/**
 * docker and podman seccomp profiles (the JSON of
 * `--security-opt seccomp=FILE`, the shape of moby's profiles/seccomp and of
 * the OCI runtime spec's linux.seccomp): parsed and checked with the JSON
 * path of every problem, then resolved for one architecture and one set of
 * capabilities into the rules bpf.ts compiles.
 */
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { ExitCode, HutchError, messageOf } from '../../../errors.js';
import type { Capabilities } from '../../container/spec.js';
import { capabilityBit, capabilityNames, normalizeCapabilityName } from '../capabilities.js';
import {
  type ArgCondition,
  type ArgOp,
  type FilterRule,
  type FilterSpec,
  type SeccompAction,
  compileFilter,
  letsThrough,
} from './bpf.js';
import { type SeccompArch, syscallNumber } from './syscalls.js';

export interface ProfileArg {
  index: number;
  /** Numbers above 2^53 must be written as strings ("0xffffffffffffffff") to stay exact. */
  value: number | string;
  valueTwo?: number | string;
  op: string;
}

export interface ProfileFilter {
  /** Capability names: includes needs all of them, excludes any of them. */
  caps?: string[];
  /** docker's architecture names: amd64, arm64, x32, x86, arm… */
  arches?: string[];
  /** "major.minor" of the running kernel. */
  minKernel?: string;
}

export interface ProfileSyscall {
  names?: string[];
  /** The single name of docker's older profiles. */
  name?: string;
  action: string;
  errnoRet?: number;
  args?: ProfileArg[] | null;
  comment?: string;
  includes?: ProfileFilter;
  excludes?: ProfileFilter;
}

export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: { architecture: string; subArchitectures?: string[] }[];
  /** SECCOMP_FILTER_FLAG_* names; checked, not applied (hutch loads filters with no flags). */
  flags?: string[];
  syscalls?: ProfileSyscall[];
}

const ACTIONS = new Set([
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_LOG',
]);

const OPS: Record<string, ArgOp> = {
  SCMP_CMP_EQ: 'eq',
  SCMP_CMP_NE: 'ne',
  SCMP_CMP_LT: 'lt',
  SCMP_CMP_LE: 'le',
  SCMP_CMP_GT: 'gt',
  SCMP_CMP_GE: 'ge',
  SCMP_CMP_MASKED_EQ: 'masked-eq',
};

const ARCHITECTURES = new Set(
  [
    'X86',
    'X86_64',
    'X32',
    'ARM',
    'AARCH64',
    'MIPS',
    'MIPS64',
    'MIPS64N32',
    'MIPSEL',
    'MIPSEL64',
    'MIPSEL64N32',
    'PPC',
    'PPC64',
    'PPC64LE',
    'S390',
    'S390X',
    'PARISC',
    'PARISC64',
    'RISCV64',
    'LOONGARCH64',
    'M68K',
    'SH',
    'SHEB',
  ].map((a) => `SCMP_ARCH_${a}`),
);

const FLAGS = new Set([
  'SECCOMP_FILTER_FLAG_TSYNC',
  'SECCOMP_FILTER_FLAG_LOG',
  'SECCOMP_FILTER_FLAG_SPEC_ALLOW',
  'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV',
]);

/** docker's names (Go's GOARCH) for includes/excludes.arches, and the kernel's. */
const ARCH_NAMES: Record<SeccompArch, string[]> = {
  x86_64: ['amd64', 'x86_64'],
  aarch64: ['arm64', 'aarch64'],
};

const EPERM = 1;
const MAX_ERRNO = 4095;

/** Builds the error of a profile problem: `seccomp profile p.json: syscalls[3].action: …`. */
function problem(source: string, path: string, message: string): HutchError {
  return new HutchError(`seccomp profile ${source}: ${path === '' ? '' : `${path}: `}${message}`, {
    hint: 'the format is docker’s (https://docs.docker.com/engine/security/seccomp/); use --security-opt seccomp=unconfined to run without a filter',
    exitCode: ExitCode.Error,
  });
}

type Json = unknown;

function isObject(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

class Checker {
  constructor(private readonly source: string) {}

  fail(path: string, message: string): never {
    throw problem(this.source, path, message);
  }

  object(value: Json, path: string): Record<string, Json> {
    if (!isObject(value)) this.fail(path, `expected an object, got ${describe(value)}`);
    return value;
  }

  string(value: Json, path: string): string {
    if (typeof value !== 'string') this.fail(path, `expected a string, got ${describe(value)}`);
    return value;
  }

  strings(value: Json, path: string): string[] {
    if (!Array.isArray(value)) this.fail(path, `expected an array of strings, got ${describe(value)}`);
    return value.map((v, i) => this.string(v, `${path}[${i}]`));
  }

  errno(value: Json, path: string): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_ERRNO) {
      this.fail(path, `expected an errno between 0 and ${MAX_ERRNO}, got ${describe(value)}`);
    }
    return value;
  }

  u64(value: Json, path: string): bigint {
    if (typeof value === 'number') {
      if (!Number.isSafeInteger(value) || value < 0) {
        this.fail(
          path,
          `${value} is not an exact unsigned integer; write values above 2^53 as strings, e.g. "0xffffffffffffffff"`,
        );
      }
      return BigInt(value);
    }
    if (typeof value === 'string' && /^(0x[0-9a-f]+|\d+)$/i.test(value.trim())) {
      const parsed = BigInt(value.trim());
      if (parsed < 1n << 64n) return parsed;
    }
    this.fail(path, `expected an unsigned 64-bit integer, got ${describe(value)}`);
  }
}

function describe(value: Json): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}

function checkFilter(c: Checker, value: Json, path: string): ProfileFilter {
  const filter = c.object(value, path);
  const result: ProfileFilter = {};
  if (filter.caps !== undefined && filter.caps !== null) result.caps = c.strings(filter.caps, `${path}.caps`);
  if (filter.arches !== undefined && filter.arches !== null) result.arches = c.strings(filter.arches, `${path}.arches`);
  if (filter.minKernel !== undefined && filter.minKernel !== null && filter.minKernel !== '') {
    const text = c.string(filter.minKernel, `${path}.minKernel`);
    if (parseKernel(text) === undefined)
      c.fail(`${path}.minKernel`, `expected "major.minor", got ${JSON.stringify(text)}`);
    result.minKernel = text;
  }
  return result;
}

function checkAction(c: Checker, value: Json, path: string): string {
  const action = c.string(value, path);
  if (action === 'SCMP_ACT_NOTIFY') c.fail(path, 'SCMP_ACT_NOTIFY is not supported (hutch has no seccomp agent)');
  if (!ACTIONS.has(action)) c.fail(path, `unknown action ${JSON.stringify(action)}`);
  return action;
}

function checkSyscall(c: Checker, value: Json, path: string): ProfileSyscall {
  const entry = c.object(value, path);
  const result: ProfileSyscall = { action: checkAction(c, entry.action, `${path}.action`) };
  if (entry.names !== undefined && entry.names !== null) result.names = c.strings(entry.names, `${path}.names`);
  if (entry.name !== undefined && entry.name !== null) result.name = c.string(entry.name, `${path}.name`);
  if ((result.names ?? []).length === 0 && result.name === undefined) c.fail(path, 'names is missing or empty');
  if (entry.errnoRet !== undefined && entry.errnoRet !== null) {
    result.errnoRet = c.errno(entry.errnoRet, `${path}.errnoRet`);
  }
  if (entry.comment !== undefined && entry.comment !== null)
    result.comment = c.string(entry.comment, `${path}.comment`);
  const args = entry.args;
  if (args !== undefined && args !== null) {
    if (!Array.isArray(args)) c.fail(`${path}.args`, `expected an array, got ${describe(args)}`);
    result.args = args.map((a: Json, i) => {
      const at = `${path}.args[${i}]`;
      const arg = c.object(a, at);
      const index = arg.index;
      if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > 5) {
        c.fail(`${at}.index`, `expected an argument index from 0 to 5, got ${describe(index)}`);
      }
      const op = c.string(arg.op, `${at}.op`);
      if (OPS[op] === undefined) c.fail(`${at}.op`, `unknown operator ${JSON.stringify(op)}`);
      c.u64(arg.value, `${at}.value`);
      const checked: ProfileArg = { index, op, value: arg.value as number | string };
      if (arg.valueTwo !== undefined && arg.valueTwo !== null) {
        c.u64(arg.valueTwo, `${at}.valueTwo`);
        checked.valueTwo = arg.valueTwo as number | string;
      }
      return checked;
    });
  }
  if (entry.includes !== undefined && entry.includes !== null) {
    result.includes = checkFilter(c, entry.includes, `${path}.includes`);
  }
  if (entry.excludes !== undefined && entry.excludes !== null) {
    result.excludes = checkFilter(c, entry.excludes, `${path}.excludes`);
  }
  return result;
}

/** Checks a parsed profile; unknown keys are ignored, as docker ignores them. */
export function checkProfile(value: Json, source: string): SeccompProfile {
  const c: Checker = new Checker(source);
  const top = c.object(value, '');
  const profile: SeccompProfile = { defaultAction: checkAction(c, top.defaultAction, 'defaultAction') };
  if (top.defaultErrnoRet !== undefined && top.defaultErrnoRet !== null) {
    profile.defaultErrnoRet = c.errno(top.defaultErrnoRet, 'defaultErrnoRet');
  }
  const checkArch = (arch: string, path: string) => {
    if (!ARCHITECTURES.has(arch)) c.fail(path, `unknown architecture ${JSON.stringify(arch)}`);
  };
  if (top.architectures !== undefined && top.architectures !== null) {
    profile.architectures = c.strings(top.architectures, 'architectures');
    profile.architectures.forEach((a, i) => checkArch(a, `architectures[${i}]`));
  }
  const archMap = top.archMap;
  if (archMap !== undefined && archMap !== null) {
    if (!Array.isArray(archMap)) c.fail('archMap', `expected an array, got ${describe(archMap)}`);
    profile.archMap = archMap.map((m: Json, i) => {
      const entry = c.object(m, `archMap[${i}]`);
      const architecture = c.string(entry.architecture, `archMap[${i}].architecture`);
      checkArch(architecture, `archMap[${i}].architecture`);
      const sub =
        entry.subArchitectures === undefined || entry.subArchitectures === null
          ? []
          : c.strings(entry.subArchitectures, `archMap[${i}].subArchitectures`);
      sub.forEach((a, k) => checkArch(a, `archMap[${i}].subArchitectures[${k}]`));
      return { architecture, subArchitectures: sub };
    });
  }
  if (top.flags !== undefined && top.flags !== null) {
    profile.flags = c.strings(top.flags, 'flags');
    profile.flags.forEach((f, i) => {
      if (!FLAGS.has(f)) c.fail(`flags[${i}]`, `unknown flag ${JSON.stringify(f)}`);
    });
  }
  const syscalls = top.syscalls;
  if (syscalls !== undefined && syscalls !== null) {
    if (!Array.isArray(syscalls)) c.fail('syscalls', `expected an array, got ${describe(syscalls)}`);
    profile.syscalls = syscalls.map((s: Json, i) => checkSyscall(c, s, `syscalls[${i}]`));
  }
  return profile;
}

/** Parses the text of a profile; `source` names it in errors (the file's path). */
export function parseProfile(text: string, source: string): SeccompProfile {
  let value: Json;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw problem(source, '', `not valid JSON: ${messageOf(error)}`);
  }
  return checkProfile(value, source);
}

/** Reads and parses a profile file. */
export function loadProfile(path: string): SeccompProfile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new HutchError(`seccomp profile ${path}: ${messageOf(error)}`, {
      hint: 'give the path of a JSON profile, `default`, or `unconfined`',
      cause: error,
    });
  }
  return parseProfile(text, path);
}

function parseKernel(text: string): [number, number] | undefined {
  const match = /^(\d+)\.(\d+)/.exec(text.trim());
  return match === null ? undefined : [Number(match[1]), Number(match[2])];
}

function kernelAtLeast(kernel: [number, number], min: [number, number]): boolean {
  return kernel[0] > min[0] || (kernel[0] === min[0] && kernel[1] >= min[1]);
}

function actionOf(name: string, errnoRet: number | undefined): SeccompAction {
  switch (name) {
    case 'SCMP_ACT_ALLOW':
      return { type: 'allow' };
    case 'SCMP_ACT_ERRNO':
      return { type: 'errno', errno: errnoRet ?? EPERM };
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return { type: 'kill-thread' };
    case 'SCMP_ACT_KILL_PROCESS':
      return { type: 'kill-process' };
    case 'SCMP_ACT_TRAP':
      return { type: 'trap' };
    case 'SCMP_ACT_TRACE':
      return { type: 'trace', data: errnoRet ?? EPERM };
    case 'SCMP_ACT_LOG':
      return { type: 'log' };
    default:
      throw new Error(`unchecked seccomp action ${name}`);
  }
}

function sameAction(a: SeccompAction, b: SeccompAction): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export interface ResolveOptions {
  arch: SeccompArch;
  /**
   * includes.caps / excludes.caps are tested against the bounding set, as
   * docker and podman do: a non-root process may still gain a bounding
   * capability through a setuid or file-capability program (su, ping), and
   * the filter must let it use it then.
   */
  capabilities: Pick<Capabilities, 'bounding'>;
  /** The running kernel's release (os.release()). */
  kernel?: string;
}

/** Whether an entry applies here (docker's includes/excludes rules). */
function applies(entry: ProfileSyscall, options: ResolveOptions, kernel: [number, number] | undefined): boolean {
  const arches = ARCH_NAMES[options.arch];
  const holds = (cap: string) => {
    const number = capabilityNames.indexOf(normalizeCapabilityName(cap));
    return number >= 0 && (options.capabilities.bounding & capabilityBit(number)) !== 0n;
  };
  const reached = (min: string | undefined) => {
    const wanted = min === undefined ? undefined : parseKernel(min);
    return wanted === undefined || kernel === undefined || kernelAtLeast(kernel, wanted);
  };
  const ex = entry.excludes;
  if (ex !== undefined) {
    if (ex.arches?.some((a) => arches.includes(a))) return false;
    if (ex.caps?.some(holds)) return false;
    if (ex.minKernel !== undefined && reached(ex.minKernel)) return false;
  }
  const inc = entry.includes;
  if (inc !== undefined) {
    if (inc.arches !== undefined && inc.arches.length > 0 && !inc.arches.some((a) => arches.includes(a))) return false;
    if (inc.caps !== undefined && !inc.caps.every(holds)) return false;
    if (!reached(inc.minKernel)) return false;
  }
  return true;
}

/**
 * The rules of a profile for one architecture and capability set.
 * - Names the architecture lacks are skipped, as libseccomp skips them.
 * - Two entries that give the same call different actions without argument
 *   conditions contradict each other: an error naming both.
 * - With a default action that refuses calls, calls numbered above every
 *   call the profile names (whatever its includes/excludes) get ENOSYS, so a
 *   C library newer than the profile falls back to older calls.
 */
export function resolveProfile(profile: SeccompProfile, options: ResolveOptions, source: string): FilterSpec {
  const kernel = parseKernel(options.kernel ?? release());
  const defaultAction = actionOf(profile.defaultAction, profile.defaultErrnoRet);
  const rules: FilterRule[] = [];
  const unconditional = new Map<number, { action: SeccompAction; path: string }>();
  let highest = -1;
  (profile.syscalls ?? []).forEach((entry, i) => {
    const path = `syscalls[${i}]`;
    const names = [...(entry.names ?? []), ...(entry.name === undefined ? [] : [entry.name])];
    const numbers = names.map((n) => syscallNumber(n, options.arch)).filter((n): n is number => n !== undefined);
    for (const nr of numbers) highest = Math.max(highest, nr);
    if (!applies(entry, options, kernel)) return;
    const action = actionOf(entry.action, entry.errnoRet);
    const args: ArgCondition[] = (entry.args ?? []).map((a) => {
      const cond: ArgCondition = { index: a.index, op: OPS[a.op] as ArgOp, value: BigInt(a.value) };
      if (a.valueTwo !== undefined) cond.valueTwo = BigInt(a.valueTwo);
      return cond;
    });
    names.forEach((name, k) => {
      const nr = syscallNumber(name, options.arch);
      if (nr === undefined) return;
      if (args.length === 0) {
        const earlier = unconditional.get(nr);
        if (earlier !== undefined && !sameAction(earlier.action, action)) {
          throw problem(
            source,
            `${path}.names[${k}]`,
            `${JSON.stringify(name)} already has another action in ${earlier.path} (${JSON.stringify(entry.action)} here)`,
          );
        }
        if (earlier === undefined) unconditional.set(nr, { action, path });
      }
      rules.push({ nr, action, args });
    });
  });
  const spec: FilterSpec = { arch: options.arch, defaultAction, rules };
  if (!letsThrough(defaultAction) && highest >= 0) spec.unknownAbove = highest;
  return spec;
}

/** Resolves and compiles a profile: the sock_filter program for the plan's seccomp step. */
export function compileProfile(profile: SeccompProfile, options: ResolveOptions, source: string): Buffer {
  return compileFilter(resolveProfile(profile, options, source));
}
