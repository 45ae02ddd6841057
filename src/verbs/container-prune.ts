/**
 * `hutch container prune`: every container that is not running, removed.
 * One that cannot be is skipped with a warning (a container that started
 * meanwhile is refused by removeContainer without force: it stays).
 */
import { openRuntime, removeContainer } from '../run/container/lifecycle.js';

export interface PruneReport {
  /** The ids removed (podman prints them). */
  removed: string[];
  /** One line per container left, `NAME: why`. */
  warnings: string[];
}

export async function pruneContainers(env: NodeJS.ProcessEnv = process.env): Promise<PruneReport> {
  const runtime = await openRuntime(env);
  const report: PruneReport = { removed: [], warnings: [] };
  for (const container of runtime.containers.list()) {
    if (container.state.status === 'running') continue;
    try {
      await removeContainer(runtime, container, { force: false, volumes: false });
      report.removed.push(container.config.id);
    } catch (error) {
      report.warnings.push(`${container.config.name}: ${(error as Error).message}`);
    }
  }
  return report;
}
