/**
 * `hutch healthcheck run CTR`: the container's healthcheck, once, recorded in
 * its health (src/run/container/health-log.ts); then, when that leaves it
 * unhealthy, its --health-on-failure action (kill, stop, or restart). The
 * container's monitor runs this every interval.
 */
import { HutchError } from '../errors.js';
import type { HealthStatus } from '../run/container/health-log.js';
import { runHealthcheck } from '../run/container/health-run.js';
import {
  openRuntime,
  signalContainer,
  startContainer,
  stopContainer,
  waitForMonitor,
  type Runtime,
} from '../run/container/lifecycle.js';
import type { Container } from '../run/container/store.js';

export interface HealthcheckOutcome {
  /** This check's verdict: podman prints `unhealthy` and exits 1 when it failed. */
  passed: boolean;
  /** The container's health after it. */
  status: HealthStatus;
}

export async function healthcheckRun(name: string): Promise<HealthcheckOutcome> {
  const runtime = await openRuntime();
  let container: Container;
  try {
    container = runtime.containers.find(name);
  } catch (error) {
    throw new HutchError(`unable to look up ${name} to perform a health check: ${(error as Error).message}`);
  }
  const result = await runHealthcheck(runtime, container);
  if (result.health.status === 'unhealthy') await onFailure(runtime, container);
  if (result.timeoutError !== undefined) throw result.timeoutError;
  return { passed: result.passed, status: result.health.status };
}

async function onFailure(runtime: Runtime, container: Container): Promise<void> {
  const action = container.config.options.healthcheck?.onFailure ?? 'none';
  const current = runtime.containers.read(container.config.id);
  if (action === 'none' || current === undefined || current.state.status !== 'running') return;
  if (action === 'kill') {
    signalContainer(current, 9);
  } else if (action === 'stop') {
    await stopContainer(runtime, current);
  } else {
    await stopContainer(runtime, current);
    await waitForMonitor(current);
    const stopped = runtime.containers.read(container.config.id);
    if (stopped !== undefined) await startContainer(runtime, stopped, { attach: false });
  }
}
