import { accessSync, constants, statSync } from 'node:fs';
import { ExitCode, HutchError, SyscallError } from '../errors.js';
import { native } from '../native.js';
import { resolvePaths } from '../host/dirs.js';
import { currentIdentity } from '../host/identity.js';
import { findOnPath } from '../host/idmap.js';
import { enterSession } from '../host/userns-session.js';

export interface UnshareOptions {
  /** The command and its arguments; empty runs $SHELL. */
  command: string[];
}

function resolveCommand(file: string, pathVar: string | undefined): string {
  if (file.includes('/')) {
    let isFile = false;
    try {
      isFile = statSync(file).isFile();
    } catch {
      throw new HutchError(`${file}: no such file or directory`, { exitCode: ExitCode.NotFound });
    }
    try {
      accessSync(file, constants.X_OK);
    } catch {
      isFile = false;
    }
    if (!isFile) throw new HutchError(`${file}: permission denied`, { exitCode: ExitCode.CannotExecute });
    return file;
  }
  const found = findOnPath(file, pathVar);
  if (found === undefined) throw new HutchError(`${file}: command not found`, { exitCode: ExitCode.NotFound });
  return found;
}

/**
 * `hutch unshare`: replaces hutch with the command, inside the session (uid 0
 * there, every subordinate id mapped), as `podman unshare` does. Exit status
 * and signals are the command's own because it takes hutch's place.
 */
export async function runUnshare(options: UnshareOptions, env: NodeJS.ProcessEnv = process.env): Promise<never> {
  const identity = currentIdentity(env);
  await enterSession(identity, env);
  const command = options.command.length > 0 ? options.command : [env.SHELL ?? '/bin/sh'];
  const file = resolveCommand(command[0] as string, env.PATH);
  const paths = resolvePaths(env, identity.uid);
  const childEnv: NodeJS.ProcessEnv = { ...env, HUTCH_STORAGE: paths.storage, HUTCH_RUNTIME: paths.runtime };
  delete childEnv.HUTCH_SESSION_REEXEC;
  try {
    return native.execve(
      file,
      command,
      Object.entries(childEnv).map(([k, v]) => `${k}=${v ?? ''}`),
    );
  } catch (error) {
    if (error instanceof SyscallError && (error.code === 'EACCES' || error.code === 'ENOEXEC')) {
      throw new HutchError(`${command[0]}: cannot execute: ${error.message}`, {
        exitCode: ExitCode.CannotExecute,
        cause: error,
      });
    }
    if (error instanceof SyscallError && error.code === 'ENOENT') {
      throw new HutchError(`${command[0]}: ${error.message}`, { exitCode: ExitCode.NotFound, cause: error });
    }
    throw error;
  }
}
