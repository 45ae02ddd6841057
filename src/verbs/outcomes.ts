/**
 * The verbs over several names (stop, kill, rm, start, wait, restart, pause,
 * unpause…) go on after a failure, as podman does: each name's outcome is
 * yielded as it is known, so src/cli prints it then, and decides which
 * failure the command ends with.
 */

/** What a verb did with one of the names it was given. */
export type Outcome<T> = { name: string; value: T } | { name: string; error: unknown };

/** Runs task for each name in turn, yielding its value or its error. */
export async function* eachName<T>(
  names: readonly string[],
  task: (name: string) => Promise<T>,
): AsyncGenerator<Outcome<T>, void, undefined> {
  for (const name of names) {
    let outcome: Outcome<T>;
    try {
      outcome = { name, value: await task(name) };
    } catch (error) {
      outcome = { name, error };
    }
    yield outcome;
  }
}
