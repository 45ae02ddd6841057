/**
 * `hutch rm`: the containers named (or --all, --latest, --cidfile, --filter),
 * running ones only with --force (stopped first: the stop signal, SIGKILL
 * after --time seconds). A container that others join (--network
 * container:NAME) goes only with --depend, after them. podman's exit
 * statuses: 1 for a name that names no container, 2 for a running container
 * without --force.
 */
import { HutchError } from '../errors.js';
import { openRuntime, removeContainer, stopContainer, type Runtime } from '../run/container/lifecycle.js';
import type { Container } from '../run/container/store.js';
import type { Outcome } from './outcomes.js';
import { eachTarget, selectTargets, type Target, type TargetOptions } from './targets.js';

export interface RmOptions extends TargetOptions {
  force: boolean;
  /** Their anonymous volumes too. */
  volumes: boolean;
  /** --depend: the containers that depend on each one first. */
  depend?: boolean;
  /** --time: seconds between the stop signal and SIGKILL for a running container (default: its stop timeout). */
  timeoutSeconds?: number;
}

/** podman rm's status for a name that names no container. */
const MISSING_EXIT = 1;

/** The containers that join this one's network namespace (--network container:NAME). */
function dependentsOf(runtime: Runtime, container: Container, all: readonly Container[]): Container[] {
  return all.filter((c) => {
    const request = c.config.options.networkRequest;
    if (request?.mode !== 'container' || request.target === undefined) return false;
    if (request.target === container.config.id || request.target === container.config.name) return true;
    try {
      return runtime.containers.find(request.target).config.id === container.config.id;
    } catch {
      return false;
    }
  });
}

/** The container and those that depend on it, transitively, dependents first (each once). */
function withDependents(
  runtime: Runtime,
  container: Container,
  all: readonly Container[],
  seen: Set<string>,
): Container[] {
  if (seen.has(container.config.id)) return [];
  seen.add(container.config.id);
  const order: Container[] = [];
  for (const dependent of dependentsOf(runtime, container, all))
    order.push(...withDependents(runtime, dependent, all, seen));
  order.push(container);
  return order;
}

async function removeOne(runtime: Runtime, container: Container, options: RmOptions): Promise<void> {
  const current = runtime.containers.read(container.config.id);
  if (current === undefined) return;
  const dependents = dependentsOf(runtime, current, runtime.containers.list());
  if (dependents.length > 0) {
    throw new HutchError(
      `container ${current.config.id} has dependent containers which must be removed before it: ${dependents.map((d) => d.config.id).join(', ')}: container already exists`,
      { hint: `remove them first, or use hutch rm --depend ${current.config.name}` },
    );
  }
  if (current.state.status === 'running' && options.force) {
    await stopContainer(runtime, current, options.timeoutSeconds);
  }
  await removeContainer(runtime, current, options);
}

/** Yields each container as it is removed, labelled as podman prints it (the name given, or the id). */
export async function* rm(options: RmOptions): AsyncGenerator<Outcome<void>, void, undefined> {
  const runtime = await openRuntime();
  let targets = selectTargets(runtime, options, { missingExitCode: MISSING_EXIT });
  if (options.depend === true) {
    const all = runtime.containers.list();
    const seen = new Set<string>();
    targets = targets.flatMap((target): Target[] =>
      withDependents(runtime, target.container, all, seen).map((container) => ({
        label: container.config.id === target.container.config.id ? target.label : container.config.id,
        container,
      })),
    );
  }
  yield* eachTarget(targets, (container) => removeOne(runtime, container, options));
}
