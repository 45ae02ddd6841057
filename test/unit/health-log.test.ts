/** A container's health as podman 4.3 keeps it: the streak, the status, the last 5 entries. */
import { describe, expect, it } from 'vitest';
import {
  healthSummary,
  inspectHealth,
  recordCheck,
  startingHealth,
  type HealthLogEntry,
  type HealthState,
} from '../../src/run/container/health-log.js';

const entry = (exitCode: number, output = ''): HealthLogEntry => ({
  start: '2026-12-08T01:56:39.988Z',
  end: '2026-12-08T01:56:40.237Z',
  exitCode,
  output,
});

describe('recordCheck', () => {
  it('makes a container healthy at the first success and unhealthy after `retries` failures in a row', () => {
    let health: HealthState = startingHealth(undefined);
    health = recordCheck(health, entry(1), { retries: 2, inStartPeriod: false });
    expect(health).toMatchObject({ status: 'starting', failingStreak: 1 });
    health = recordCheck(health, entry(1), { retries: 2, inStartPeriod: false });
    expect(health).toMatchObject({ status: 'unhealthy', failingStreak: 2 });
    health = recordCheck(health, entry(0), { retries: 2, inStartPeriod: false });
    expect(health).toMatchObject({ status: 'healthy', failingStreak: 0 });
    health = recordCheck(health, entry(-1), { retries: 2, inStartPeriod: false });
    expect(health).toMatchObject({ status: 'healthy', failingStreak: 1 });
  });

  it('does not count failures within the start period, but logs them', () => {
    const health = recordCheck(startingHealth(undefined), entry(1), { retries: 1, inStartPeriod: true });
    expect(health).toMatchObject({ status: 'starting', failingStreak: 0 });
    expect(health.log).toHaveLength(1);
  });

  it('keeps the last 5 entries, and a new start keeps them with the streak', () => {
    let health = startingHealth(undefined);
    for (let i = 0; i < 7; i++)
      health = recordCheck(health, entry(0, `run ${i}`), { retries: 3, inStartPeriod: false });
    expect(health.log.map((e) => e.output)).toEqual(['run 2', 'run 3', 'run 4', 'run 5', 'run 6']);
    expect(startingHealth(health)).toEqual({ ...health, status: 'starting' });
  });
});

describe('inspectHealth and healthSummary', () => {
  it('shows podman’s empty health for a container without a check, and the log as recorded', () => {
    expect(inspectHealth({ hasHealthcheck: false, running: true, health: undefined })).toEqual({
      Status: '',
      FailingStreak: 0,
      Log: null,
    });
    const health = recordCheck(startingHealth(undefined), entry(0, 'ok'), { retries: 3, inStartPeriod: false });
    expect(inspectHealth({ hasHealthcheck: true, running: true, health })).toEqual({
      Status: 'healthy',
      FailingStreak: 0,
      Log: [{ Start: '2026-12-08T01:56:39.988Z', End: '2026-12-08T01:56:40.237Z', ExitCode: 0, Output: 'ok' }],
    });
  });

  it('puts the status after ps’s "Up" only while a container with a check runs', () => {
    expect(healthSummary({ hasHealthcheck: true, running: true, health: undefined })).toBe('starting');
    expect(healthSummary({ hasHealthcheck: true, running: false, health: undefined })).toBeUndefined();
    expect(healthSummary({ hasHealthcheck: false, running: true, health: undefined })).toBeUndefined();
    const unhealthy = { status: 'unhealthy' as const, failingStreak: 3, log: [] };
    expect(healthSummary({ hasHealthcheck: true, running: true, health: unhealthy })).toBe('unhealthy');
  });
});
