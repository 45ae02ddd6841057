import { constants } from 'node:os';
import { getSystemErrorMap, getSystemErrorName } from 'node:util';

/** Exit statuses, as podman and docker use them. */
export const ExitCode = {
  /** hutch itself failed (bad flag, broken host, store error). */
  Error: 125,
  /** The command was found but could not be executed. */
  CannotExecute: 126,
  /** The command was not found. */
  NotFound: 127,
} as const;

/**
 * A failed system call, shaped like Node's own fs errors:
 * `EPERM: operation not permitted, mount '/proc'`. Thrown by the addon (the
 * class is registered with it once, in src/native.ts) and by the plan child.
 */
export class SyscallError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  readonly path: string | undefined;

  constructor(errno: number, syscall: string, path?: string) {
    const code = errnoName(errno);
    const description = describeErrno(errno);
    super(`${code}: ${description}, ${syscall}${path === undefined ? '' : ` '${path}'`}`);
    this.name = 'SyscallError';
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
    this.path = path;
  }
}

// libuv knows the names and texts of the common errnos only (not ENOEXEC, say):
// the rest come from the OS constants and from strerror(3) through the addon.
const namesByNumber = new Map(Object.entries(constants.errno).map(([name, number]) => [number, name]));
let strerror: ((errno: number) => string) | undefined;

/** Lets src/native.ts supply strerror(3) once the addon is loaded. */
export function useStrerror(fn: (errno: number) => string): void {
  strerror = fn;
}

export function errnoName(errno: number): string {
  const known = getSystemErrorMap().get(-errno)?.[0] ?? namesByNumber.get(errno);
  if (known !== undefined) return known;
  try {
    return getSystemErrorName(-errno);
  } catch {
    return `E${errno}`;
  }
}

function describeErrno(errno: number): string {
  return getSystemErrorMap().get(-errno)?.[1] ?? strerror?.(errno).toLowerCase() ?? 'unknown error';
}

/**
 * An error whose cause and fix are known where it is thrown: the user sees
 * `message` as one line, then `hint`, and hutch exits with `exitCode`.
 */
export class HutchError extends Error {
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(message: string, options: { hint?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HutchError';
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? ExitCode.Error;
  }
}

/**
 * Context added by one layer: its message is `context: cause`, so a chain reads
 * `pull alpine: extract layer sha256:ab12: EACCES: permission denied, mknod 'dev/null'`.
 * `what` names the operation for explain() without parsing messages.
 */
export class ContextError extends Error {
  readonly what: string;

  constructor(what: string, context: string, cause: unknown) {
    super(`${context}: ${messageOf(cause)}`, { cause });
    this.name = 'ContextError';
    this.what = what;
  }
}

export function withContext(what: string, context: string, cause: unknown): ContextError {
  return new ContextError(what, context, cause);
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The chain of causes, outermost first. */
export function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = error;
  while (current !== undefined && current !== null && chain.length < 32) {
    chain.push(current);
    current = current instanceof Error ? current.cause : undefined;
  }
  return chain;
}
