/**
 * --restart as podman 4.3.1 reads it (each refusal its error line on the development
 * host), and what the policy decides when a container has exited.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  inspectRestartPolicy,
  parseRestartPolicy,
  type RestartPolicy,
} from '../../src/run/container/restart-policy.js';
import {
  clearStoppedByUser,
  markStoppedByUser,
  policyRestarts,
  restartDelayMs,
  stoppedByUser,
} from '../../src/run/container/restart-state.js';
import type { Container, ContainerState } from '../../src/run/container/store.js';

const refusal = (text: string, rm = false): string => {
  try {
    parseRestartPolicy(text, rm);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('accepted');
};

describe('parseRestartPolicy', () => {
  it('reads no, always, unless-stopped and on-failure[:N]', () => {
    expect(parseRestartPolicy(undefined, false)).toBeUndefined();
    expect(parseRestartPolicy('', false)).toBeUndefined();
    expect(parseRestartPolicy('no', true)).toEqual({ name: 'no', maxRetries: 0 });
    expect(parseRestartPolicy('always', false)).toEqual({ name: 'always', maxRetries: 0 });
    expect(parseRestartPolicy('unless-stopped', false)).toEqual({ name: 'unless-stopped', maxRetries: 0 });
    expect(parseRestartPolicy('on-failure', false)).toEqual({ name: 'on-failure', maxRetries: 0 });
    expect(parseRestartPolicy('on-failure:3', false)).toEqual({ name: 'on-failure', maxRetries: 3 });
    expect(inspectRestartPolicy(parseRestartPolicy('on-failure:3', false))).toEqual({
      Name: 'on-failure',
      MaximumRetryCount: 3,
    });
    expect(inspectRestartPolicy(undefined)).toEqual({ Name: '', MaximumRetryCount: 0 });
  });

  it('refuses what podman refuses, in its words', () => {
    expect(refusal('bogus')).toBe('"bogus" is not a valid restart policy: invalid argument');
    expect(refusal('on-failure:x')).toBe(
      'parsing restart policy retry count: strconv.Atoi: parsing "x": invalid syntax',
    );
    expect(refusal('always:3')).toBe('restart policy retries can only be specified with on-failure restart policy');
    expect(refusal('on-failure:-1')).toBe('must specify restart policy retry count as a number greater than 0');
    expect(refusal('on-failure:1:2')).toBe('invalid restart policy: may specify retries at most once');
    expect(refusal('always', true)).toBe(
      'the --rm option conflicts with --restart, when the restartPolicy is not "" and "no"',
    );
  });
});

describe('the policy after an exit', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  const exited = (policy: RestartPolicy | undefined, state: Partial<ContainerState>): Container => {
    const runtimeDir = mkdtempSync(join(tmpdir(), 'hutch-restart-'));
    dirs.push(runtimeDir);
    return {
      config: { options: { restartPolicy: policy } },
      state: {
        status: 'exited',
        exitCode: 0,
        restartCount: 0,
        startedAt: '2026-12-08T00:00:00.000Z',
        finishedAt: '2026-12-08T00:00:01.000Z',
        ...state,
      },
      runtimeDir,
    } as unknown as Container;
  };

  it('restarts always and unless-stopped after any exit, on-failure after a failure up to N times', () => {
    expect(policyRestarts(exited({ name: 'always', maxRetries: 0 }, {}))).toBe(true);
    expect(policyRestarts(exited({ name: 'unless-stopped', maxRetries: 0 }, { exitCode: 0 }))).toBe(true);
    expect(policyRestarts(exited({ name: 'no', maxRetries: 0 }, { exitCode: 1 }))).toBe(false);
    expect(policyRestarts(exited(undefined, { exitCode: 1 }))).toBe(false);
    const onFailure = { name: 'on-failure' as const, maxRetries: 2 };
    expect(policyRestarts(exited(onFailure, { exitCode: 0 }))).toBe(false);
    expect(policyRestarts(exited(onFailure, { exitCode: 3, restartCount: 1 }))).toBe(true);
    expect(policyRestarts(exited(onFailure, { exitCode: 3, restartCount: 2 }))).toBe(false);
    expect(policyRestarts(exited({ name: 'on-failure', maxRetries: 0 }, { exitCode: -1, restartCount: 50 }))).toBe(
      true,
    );
    expect(policyRestarts(exited({ name: 'always', maxRetries: 0 }, { status: 'running' }))).toBe(false);
  });

  it('does not restart a container stopped through hutch, until its next start clears the mark', () => {
    const container = exited({ name: 'always', maxRetries: 0 }, {});
    markStoppedByUser(container);
    expect(stoppedByUser(container)).toBe(true);
    expect(policyRestarts(container)).toBe(false);
    clearStoppedByUser(container);
    expect(policyRestarts(container)).toBe(true);
  });

  it('waits longer after each quick exit in a row, at most 30 s, and not at all after a long run', () => {
    const always = { name: 'always' as const, maxRetries: 0 };
    expect(restartDelayMs(exited(always, { restartCount: 0 }))).toBe(100);
    expect(restartDelayMs(exited(always, { restartCount: 3 }))).toBe(800);
    expect(restartDelayMs(exited(always, { restartCount: 40 }))).toBe(30_000);
    expect(restartDelayMs(exited(always, { restartCount: 5, finishedAt: '2026-12-08T00:00:10.000Z' }))).toBe(0);
  });
});
