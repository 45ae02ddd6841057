/**
 * Healthchecks for real, as podman 4.3.1 gives them (checked on the
 * development host): the monitor runs the check every interval, ps shows
 * (starting), (healthy) or (unhealthy) after "Up", inspect shows the state
 * and the last checks, `healthcheck run` exits 0, 1 (printing unhealthy) or
 * 125, and --health-on-failure acts on an unhealthy container.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fail, hutch, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

describe.skipIf(need.skip)('healthchecks', () => {
  let box: Sandbox;
  const inspect = (name: string, format: string) => ok(['inspect', '--format', format, name], box).trim();
  const health = (name: string) => JSON.parse(inspect(name, '{{json .State.Health}}')) as Record<string, unknown>;

  async function until(what: string, probe: () => boolean, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!probe()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  beforeAll(async () => {
    box = sandbox();
    ok(['import', await busyboxRootfsTar(), 'localhost/busybox'], box);
  });
  afterAll(() => {
    hutch(['rm', '-af'], box);
    box.dispose();
  });

  it('is run by the monitor every interval: starting, then healthy in ps and inspect', async () => {
    ok(
      [
        'run',
        '-d',
        '--name',
        'ticking',
        '--health-cmd',
        'test -e /tmp/ready && echo fine',
        '--health-interval',
        '1s',
        '--health-retries',
        '100',
        'localhost/busybox',
        'sleep',
        '1000',
      ],
      box,
    );
    expect(ok(['ps'], box)).toMatch(/Up .* \((starting|unhealthy)\) .*ticking/);
    expect(inspect('ticking', '{{json .Config.Healthcheck}}')).toBe(
      '{"Test":["CMD-SHELL","test -e /tmp/ready && echo fine"],"Interval":1000000000,"Timeout":30000000000,"Retries":100}',
    );
    // Failing checks before the file exists, then one that passes: nobody but the monitor runs them.
    await until('a failed check', () => ((health('ticking').Log as unknown[] | null) ?? []).length > 0);
    expect(health('ticking')).toMatchObject({ Status: 'starting' });
    ok(['exec', 'ticking', 'touch', '/tmp/ready'], box);
    await until('healthy', () => health('ticking').Status === 'healthy');
    const log = health('ticking').Log as { ExitCode: number; Output: string; Start: string }[];
    expect(log.length).toBeLessThanOrEqual(5);
    expect(log.at(-1)).toMatchObject({ ExitCode: 0, Output: 'fine' });
    expect(log.at(0)?.ExitCode).toBe(1);
    expect(ok(['ps'], box)).toMatch(/Up .* \(healthy\) .*ticking/);
    // Stopped, it has no health in ps; started again, it starts over.
    ok(['stop', '-t', '0', 'ticking'], box);
    expect(ok(['ps', '-a'], box)).toMatch(/Exited \(137\).*ticking/);
    ok(['start', 'ticking'], box);
    expect(health('ticking').Status).toBe('starting');
  });

  it('`healthcheck run`: 0 when it passes, 1 and unhealthy when it fails, 125 without a check or a running container', () => {
    ok(
      [
        'run',
        '-d',
        '--name',
        'sick',
        '--health-cmd',
        'echo out; echo err >&2; exit 3',
        '--health-retries',
        '2',
        '--health-interval',
        'disable',
        'localhost/busybox',
        'sleep',
        '1000',
      ],
      box,
    );
    const first = hutch(['healthcheck', 'run', 'sick'], box);
    expect([first.status, first.stdout]).toEqual([1, 'unhealthy\n']);
    expect(health('sick')).toMatchObject({ Status: 'starting', FailingStreak: 1 });
    expect(hutch(['healthcheck', 'run', 'sick'], box).status).toBe(1);
    expect(health('sick')).toMatchObject({ Status: 'unhealthy', FailingStreak: 2 });
    expect((health('sick').Log as { ExitCode: number; Output: string }[])[0]).toMatchObject({
      ExitCode: 1,
      Output: 'out\nerr',
    });
    expect(ok(['ps'], box)).toMatch(/Up .* \(unhealthy\) .*sick/);

    ok(['run', '-d', '--name', 'plain', 'localhost/busybox', 'sleep', '1000'], box);
    const id = inspect('plain', '{{.Id}}');
    expect(fail(['healthcheck', 'run', 'plain'], box)).toBe(`Error: container ${id} has no defined healthcheck`);
    expect(health('plain')).toEqual({ Status: '', FailingStreak: 0, Log: null });
    ok(['create', '--name', 'idle', '--health-cmd', 'true', 'localhost/busybox', 'true'], box);
    expect(fail(['healthcheck', 'run', 'idle'], box)).toBe(
      `Error: container ${inspect('idle', '{{.Id}}')} is not running`,
    );
    expect(fail(['healthcheck', 'run', 'nosuch'], box)).toBe(
      'Error: unable to look up nosuch to perform a health check: no container with name or ID "nosuch" found: no such container',
    );
  });

  it('kills a check that runs past its timeout and says so (exit 125), a failure of the check', () => {
    ok(
      [
        'run',
        '-d',
        '--name',
        'slow',
        '--health-cmd',
        'sleep 30',
        '--health-timeout',
        '1s',
        '--health-interval',
        '0',
        'localhost/busybox',
        'sleep',
        '1000',
      ],
      box,
    );
    const started = Date.now();
    expect(fail(['healthcheck', 'run', 'slow'], box)).toBe('Error: healthcheck command exceeded timeout of 1s');
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(health('slow')).toMatchObject({ Status: 'starting', FailingStreak: 1 });
    expect((health('slow').Log as { ExitCode: number }[])[0]?.ExitCode).toBe(-1);
  });

  it('does not count failures in the start period', () => {
    ok(
      [
        'run',
        '-d',
        '--name',
        'warming',
        '--health-cmd',
        'false',
        '--health-retries',
        '1',
        '--health-start-period',
        '1h',
        '--health-interval',
        'disable',
        'localhost/busybox',
        'sleep',
        '1000',
      ],
      box,
    );
    expect(hutch(['healthcheck', 'run', 'warming'], box).status).toBe(1);
    expect(health('warming')).toMatchObject({ Status: 'starting', FailingStreak: 0 });
  });

  it('--health-on-failure kill: the monitor’s check kills a container that turns unhealthy', async () => {
    ok(
      [
        'run',
        '-d',
        '--name',
        'doomed',
        '--health-cmd',
        'false',
        '--health-interval',
        '1s',
        '--health-retries',
        '1',
        '--health-on-failure',
        'kill',
        'localhost/busybox',
        'sleep',
        '1000',
      ],
      box,
    );
    await until('killed', () => inspect('doomed', '{{.State.Status}}') === 'exited');
    expect(inspect('doomed', '{{.State.ExitCode}}')).toBe('137');
    expect(inspect('doomed', '{{.Config.HealthcheckOnFailureAction}}')).toBe('kill');
  });

  it('refuses what podman refuses, before anything exists', () => {
    const before = ok(['ps', '-aq'], box);
    expect(fail(['run', '--health-cmd', 'true', '--health-interval', 'bogus', 'localhost/busybox'], box)).toBe(
      'Error: invalid healthcheck-interval: time: invalid duration "bogus"',
    );
    expect(fail(['run', '--no-healthcheck', '--health-cmd', 'true', 'localhost/busybox'], box)).toBe(
      'Error: cannot specify both --no-healthcheck and --health-cmd',
    );
    expect(ok(['ps', '-aq'], box)).toBe(before);
  });
});
