/** podman's global flags (src/cli/global-flags.ts) and the log lines of --log-level (src/cli/log.ts). */
import { afterEach, describe, expect, it } from 'vitest';
import { applyGlobalFlags, GlobalFlagExit, type GlobalFlagValues } from '../../src/cli/global-flags.js';
import { logEnabled, logLine, setLogLevel } from '../../src/cli/log.js';
import { hintsWanted } from '../../src/cli/report.js';
import { HutchError } from '../../src/errors.js';

afterEach(() => setLogLevel('warn'));

function apply(o: GlobalFlagValues, argv: string[] = ['node', 'hutch', 'ps']): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: '/h' };
  applyGlobalFlags(o, argv, env);
  return env;
}

function refusal(o: GlobalFlagValues, argv?: string[]): Error {
  try {
    apply(o, argv);
  } catch (error) {
    return error as Error;
  }
  throw new Error('accepted');
}

describe('global flags', () => {
  it('hands --root, --runroot and --storage-driver on through the environment, as absolute paths', () => {
    const env = apply({ root: 'rel/root', runroot: '/run/x', storageDriver: 'vfs' });
    expect(env.HUTCH_STORAGE).toBe(`${process.cwd()}/rel/root`);
    expect(env.HUTCH_RUNTIME).toBe('/run/x');
    expect(env.HUTCH_STORAGE_DRIVER).toBe('vfs');
    expect(apply({ storageDriver: 'overlay' }).HUTCH_STORAGE_DRIVER).toBe('overlay');
  });

  it('refuses a log level podman does not know, and --debug with --log-level, with exit 1 and no Error: prefix', () => {
    const level = refusal({ logLevel: 'telepathic' });
    expect(level).toBeInstanceOf(GlobalFlagExit);
    expect(level.message).toBe(
      'Log Level "telepathic" is not supported, choose from: trace, debug, info, warn, warning, error, fatal, panic',
    );
    expect((level as GlobalFlagExit).exitCode).toBe(1);
    const both = refusal({ debug: true, logLevel: 'panic' }, ['node', 'hutch', '--debug', '--log-level=panic', 'info']);
    expect(both.message).toBe('Setting --log-level and --debug is not allowed');
  });

  it('refuses what hutch cannot do, with a reason (exit 125)', () => {
    for (const [o, message] of [
      [{ storageDriver: 'btrfs' }, /^unsupported storage driver "btrfs"/],
      [{ runtime: 'idonotexist' }, /^default OCI runtime "idonotexist" not found: invalid argument$/],
      [{ cgroupManager: 'foo' }, /cgroup manager must be one of cgroupfs and systemd/],
      [{ eventsBackend: 'foo' }, /"foo" is not a valid events backend/],
      [{ url: 'unix:/x' }, /^--url is not supported: hutch has no service to connect to/],
      [{ remote: true }, /^--remote is not supported/],
    ] as [GlobalFlagValues, RegExp][]) {
      const error = refusal(o);
      expect(error).toBeInstanceOf(HutchError);
      expect(error.message).toMatch(message);
    }
  });

  it('accepts the runtime on PATH, the cgroup managers, events backends and a tmpdir podman takes', () => {
    expect(() =>
      apply({ runtime: 'sh', cgroupManager: 'systemd', eventsBackend: 'none', tmpdir: '/tmp' }),
    ).not.toThrow();
  });

  it('sets the log level: warnings stop above warn, debug lines start at debug', () => {
    apply({ logLevel: 'error' });
    expect(logEnabled('warn')).toBe(false);
    apply({ logLevel: 'debug' });
    expect([logEnabled('trace'), logEnabled('debug'), logEnabled('info')]).toEqual([false, true, true]);
    apply({ debug: true });
    expect(logEnabled('debug')).toBe(true);
  });
});

describe('log lines', () => {
  it('are logrus text lines', () => {
    expect(logLine('debug', 'Using "x"', new Date('2026-12-08T01:39:49Z'))).toMatch(
      /^time="2026-12-08T\d\d:39:49(Z|[+-]\d\d:\d\d)" level=debug msg="Using \\"x\\""\n$/,
    );
  });
});

describe('hints', () => {
  it('are for a terminal, or asked for with HUTCH_HINTS=1; HUTCH_HINTS=0 never', () => {
    expect(hintsWanted({}, true)).toBe(true);
    expect(hintsWanted({}, false)).toBe(false);
    expect(hintsWanted({ HUTCH_HINTS: '1' }, false)).toBe(true);
    expect(hintsWanted({ HUTCH_HINTS: '0' }, true)).toBe(false);
  });
});
