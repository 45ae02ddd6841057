/**
 * `hutch inspect [--type T] NAME…`, `hutch container inspect` and `hutch
 * volume inspect`: the objects found, in the order named, and an error per
 * name not found. src/cli prints the objects found (a JSON array or a
 * --format template per object) even when other names are not, then fails
 * with the last error (`inspecting object: …`).
 */
import { HutchError } from '../errors.js';
import { findObject, type InspectType } from '../run/container/inspect.js';
import { openRuntime } from '../run/container/lifecycle.js';

export interface InspectResult {
  objects: Record<string, unknown>[];
  /** One per name not found. */
  errors: HutchError[];
}

export async function inspect(
  names: readonly string[],
  type: InspectType,
  env: NodeJS.ProcessEnv = process.env,
): Promise<InspectResult> {
  if (names.length === 0) throw new HutchError('inspect: give at least one name or id');
  const runtime = await openRuntime(env);
  const result: InspectResult = { objects: [], errors: [] };
  for (const name of names) {
    const found = findObject(runtime, name, type);
    if (found instanceof HutchError) result.errors.push(found);
    else result.objects.push(found);
  }
  return result;
}
