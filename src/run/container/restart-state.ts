/**
 * What the restart policy (restart-policy.ts) decides when a container has
 * exited: a container stopped or killed through hutch (stop, kill, rm -f) is
 * not restarted, by a mark in its runtime directory that lives until its
 * next start; on-failure counts the restarts in a row; quick failures wait
 * longer each time.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Container } from './store.js';

/** The mark stop, kill and rm -f leave in the runtime directory of the container's current run. */
function stoppedMark(container: Container): string {
  return join(container.runtimeDir, 'stopped-by-user');
}

/** Marks this run as stopped through hutch: its exit does not restart it. */
export function markStoppedByUser(container: Container): void {
  try {
    writeFileSync(stoppedMark(container), '');
  } catch {
    // no runtime directory: it never ran, so it has no exit to restart after
  }
}

/** A new run (a start) forgets the last one's mark. */
export function clearStoppedByUser(container: Container): void {
  rmSync(stoppedMark(container), { force: true });
}

export function stoppedByUser(container: Container): boolean {
  return existsSync(stoppedMark(container));
}

/**
 * Whether the policy restarts a container that has just exited (its state
 * reconciled: status exited, its exit code recorded) and was not stopped
 * through hutch.
 */
export function policyRestarts(container: Container): boolean {
  const policy = container.config.options.restartPolicy;
  const { state } = container;
  if (policy === undefined || state.status === 'running' || stoppedByUser(container)) return false;
  switch (policy.name) {
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure':
      return state.exitCode !== 0 && (policy.maxRetries === 0 || state.restartCount < policy.maxRetries);
    default:
      return false;
  }
}

/**
 * How long to wait before a restart: none after a run of 10 s or more, else
 * 100 ms doubled with each restart in a row, at most 30 s (docker's back-off;
 * podman restarts at once, which turns a command that fails at start into a
 * busy loop of container starts).
 */
export function restartDelayMs(container: Container): number {
  const { startedAt, finishedAt } = container.state;
  const ran = startedAt === undefined || finishedAt === undefined ? 0 : Date.parse(finishedAt) - Date.parse(startedAt);
  if (ran >= 10_000) return 0;
  return Math.min(100 * 2 ** Math.min(container.state.restartCount, 16), 30_000);
}
