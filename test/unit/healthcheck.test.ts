/**
 * --health-* as podman 4.3.1 reads them (each case checked with `podman create` on the
 * development host: its Config.Healthcheck, or its error line), the image's HEALTHCHECK,
 * and what inspect shows.
 */
import { describe, expect, it } from 'vitest';
import {
  formatGoDuration,
  healthcheckArgv,
  inspectHealthcheck,
  parseHealthCmd,
  resolveHealthcheck,
  type HealthFlags,
} from '../../src/run/container/healthcheck.js';

const flags = (more: Partial<HealthFlags>): HealthFlags => ({ disabled: false, ...more });
const refusal = (more: Partial<HealthFlags>): string => {
  try {
    resolveHealthcheck(flags(more), undefined);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('accepted');
};

describe('parseHealthCmd', () => {
  it('reads text as a shell command, a JSON array as an argv, and podman’s compatibility forms', () => {
    expect(parseHealthCmd('echo hi')).toEqual(['CMD-SHELL', 'echo hi']);
    expect(parseHealthCmd('["echo", "a b"]')).toEqual(['CMD', 'echo', 'a b']);
    expect(parseHealthCmd('["true"]')).toEqual(['CMD-SHELL', 'true']);
    expect(parseHealthCmd('["CMD-SHELL", "exit 1"]')).toEqual(['CMD-SHELL', 'exit 1']);
    expect(parseHealthCmd('["CMD", "ls", "/"]')).toEqual(['CMD', 'ls', '/']);
    expect(parseHealthCmd('CMD ls /')).toEqual(['CMD', 'ls', '/']);
    expect(parseHealthCmd('none')).toEqual(['NONE']);
    // What podman-compose 1.0.3 passes for a CMD-SHELL test.
    expect(parseHealthCmd("/bin/sh -c 'nc -z 127.0.0.1 80'")).toEqual(['CMD-SHELL', "/bin/sh -c 'nc -z 127.0.0.1 80'"]);
    expect(() => parseHealthCmd('[]')).toThrow('must define a healthcheck command for all healthchecks');
  });
});

describe('resolveHealthcheck', () => {
  it('takes podman’s defaults: 30s interval and timeout, 3 retries, no start period, no action', () => {
    const config = resolveHealthcheck(flags({ cmd: 'true' }), undefined);
    expect(config).toEqual({
      test: ['CMD-SHELL', 'true'],
      intervalMs: 30_000,
      timeoutMs: 30_000,
      startPeriodMs: 0,
      retries: 3,
      onFailure: 'none',
    });
    expect(inspectHealthcheck(config!)).toEqual({
      Test: ['CMD-SHELL', 'true'],
      Interval: 30_000_000_000,
      Timeout: 30_000_000_000,
      Retries: 3,
    });
  });

  it('reads Go durations and shows a start period only when set, as podman’s inspect does', () => {
    const config = resolveHealthcheck(
      flags({ cmd: 'true', interval: '1m30s', timeout: '2s', startPeriod: '1m', retries: '5', onFailure: 'kill' }),
      undefined,
    )!;
    expect(config).toMatchObject({ intervalMs: 90_000, timeoutMs: 2000, startPeriodMs: 60_000, retries: 5 });
    expect(config.onFailure).toBe('kill');
    expect(Object.keys(inspectHealthcheck(config))).toEqual(['Test', 'StartPeriod', 'Interval', 'Timeout', 'Retries']);
    expect(resolveHealthcheck(flags({ cmd: 'true', interval: 'disable' }), undefined)?.intervalMs).toBe(0);
    expect(resolveHealthcheck(flags({ cmd: 'true', interval: '0' }), undefined)?.intervalMs).toBe(0);
  });

  it('refuses what podman refuses, in its words', () => {
    expect(refusal({ cmd: 'true', interval: 'bogus' })).toBe(
      'invalid healthcheck-interval: time: invalid duration "bogus"',
    );
    expect(refusal({ cmd: 'true', retries: '0' })).toBe('healthcheck-retries must be greater than 0');
    expect(refusal({ cmd: 'true', timeout: '0s' })).toBe('healthcheck-timeout must be at least 1 second');
    expect(refusal({ cmd: 'true', timeout: '500ms' })).toBe('healthcheck-timeout must be at least 1 second');
    expect(refusal({ cmd: 'true', onFailure: 'bogus' })).toBe(
      'invalid on-failure action "bogus" for health check: supported actions are none,kill,restart,stop',
    );
    expect(refusal({ cmd: 'true', disabled: true })).toBe('cannot specify both --no-healthcheck and --health-cmd');
  });

  it('takes the image’s HEALTHCHECK unless a command is given or checks are off', () => {
    const image = { Test: ['CMD-SHELL', 'test -e /ok'], Interval: 1e9, Timeout: 2e9, Retries: 2 };
    expect(resolveHealthcheck(flags({}), image)).toEqual({
      test: ['CMD-SHELL', 'test -e /ok'],
      intervalMs: 1000,
      timeoutMs: 2000,
      startPeriodMs: 0,
      retries: 2,
      onFailure: 'none',
    });
    expect(resolveHealthcheck(flags({ cmd: 'true' }), image)?.test).toEqual(['CMD-SHELL', 'true']);
    expect(resolveHealthcheck(flags({ disabled: true }), image)).toBeUndefined();
    expect(resolveHealthcheck(flags({ cmd: 'none' }), image)).toBeUndefined();
    expect(resolveHealthcheck(flags({}), { Test: ['NONE'] })).toBeUndefined();
    // Docker's defaults for what an image leaves out.
    expect(resolveHealthcheck(flags({}), { Test: ['CMD', 'true'] })).toMatchObject({
      intervalMs: 30_000,
      timeoutMs: 30_000,
      retries: 3,
    });
    expect(resolveHealthcheck(flags({}), undefined)).toBeUndefined();
  });
});

describe('healthcheckArgv', () => {
  it('runs CMD-SHELL through /bin/sh -c and CMD as it is', () => {
    const base = { intervalMs: 0, timeoutMs: 1000, startPeriodMs: 0, retries: 1, onFailure: 'none' as const };
    expect(healthcheckArgv({ ...base, test: ['CMD-SHELL', 'exit 1'] })).toEqual(['/bin/sh', '-c', 'exit 1']);
    expect(healthcheckArgv({ ...base, test: ['CMD', 'ls', '/'] })).toEqual(['ls', '/']);
  });
});

describe('formatGoDuration', () => {
  it('writes what Go’s Duration.String writes', () => {
    expect(formatGoDuration(1000)).toBe('1s');
    expect(formatGoDuration(1500)).toBe('1.5s');
    expect(formatGoDuration(500)).toBe('500ms');
    expect(formatGoDuration(90_000)).toBe('1m30s');
    expect(formatGoDuration(3_600_000)).toBe('1h0m0s');
    expect(formatGoDuration(0)).toBe('0s');
  });
});
