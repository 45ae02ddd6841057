/**
 * Telling "not there" from "cannot look": a stat or read that fails with
 * EACCES, EIO or ELOOP says nothing about whether the thing exists, and
 * treating it as absent makes callers act on a falsehood (garbage collection
 * deleting what an unreadable index names, a check calling a blob missing).
 * Callers catch absence with these helpers and let every other error surface.
 */

/**
 * Whether an error says the path does not exist: ENOENT, or ENOTDIR (a
 * component of the path is not a directory, so nothing can be below it).
 */
export function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** `fn()`, or undefined when what it reads does not exist; any other error propagates. */
export function ifExists<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/** The promise's value, or undefined when what it reads does not exist; any other error propagates. */
export async function ifExistsAsync<T>(promise: Promise<T>): Promise<T | undefined> {
  try {
    return await promise;
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}
