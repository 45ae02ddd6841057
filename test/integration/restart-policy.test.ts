/**
 * --restart for real, with no daemon: the monitor's exit command starts the
 * container again (a new monitor, a new pid), as podman's policies say:
 * on-failure:N at most N times, always after a kill from outside (podman's
 * system test "network after restart": the published port answers again),
 * never after `hutch stop` or `hutch kill`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fail, hutch, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { hostGet } from '../helpers/network.js';
import { freePort } from '../helpers/registry.js';
import { requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

describe.skipIf(need.skip)('restart policies', () => {
  let box: Sandbox;
  const inspect = (name: string, format: string) => ok(['inspect', '--format', format, name], box).trim();

  async function until(what: string, probe: () => boolean, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!probe()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  const settled = (name: string) => new Promise((resolve) => setTimeout(resolve, 3000)).then(() => name);

  beforeAll(async () => {
    box = sandbox();
    ok(['import', await busyboxRootfsTar(), 'localhost/busybox'], box);
  });
  afterAll(() => {
    hutch(['rm', '-af'], box);
    box.dispose();
  });

  it('on-failure:2 restarts a failing container twice, then leaves it exited', async () => {
    ok(['run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', 'localhost/busybox', 'sh', '-c', 'exit 3'], box);
    await until('two restarts', () => inspect('flaky', '{{.RestartCount}} {{.State.Status}}') === '2 exited');
    await settled('flaky');
    expect(inspect('flaky', '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}')).toBe('2 exited 3');
    expect(inspect('flaky', '{{json .HostConfig.RestartPolicy}}')).toBe('{"Name":"on-failure","MaximumRetryCount":2}');
    // A clean exit is not a failure.
    ok(['run', '-d', '--name', 'fine', '--restart', 'on-failure', 'localhost/busybox', 'true'], box);
    await until('exited', () => inspect('fine', '{{.State.Status}}') === 'exited');
    await settled('fine');
    expect(inspect('fine', '{{.RestartCount}} {{.State.Status}}')).toBe('0 exited');
  });

  it('always brings a container killed from outside back, with its published port; stop and kill keep it down', async () => {
    const port = await freePort();
    ok(
      [
        'run',
        '-d',
        '--name',
        'web',
        '--restart',
        'always',
        '-p',
        `127.0.0.1:${port}:8080`,
        'localhost/busybox',
        'sh',
        '-c',
        'echo up > /tmp/index.html && exec httpd -f -p 8080 -h /tmp',
      ],
      box,
    );
    expect(await hostGet(port)).toBe('up\n');
    const pid = Number(inspect('web', '{{.State.Pid}}'));
    process.kill(pid, 'SIGKILL');
    await until('restarted', () => {
      const now = Number(inspect('web', '{{.State.Pid}}'));
      return now !== 0 && now !== pid;
    });
    expect(inspect('web', '{{.RestartCount}} {{.State.Status}}')).toBe('1 running');
    expect(await hostGet(port)).toBe('up\n');

    ok(['stop', '-t', '1', 'web'], box);
    await settled('web');
    expect(inspect('web', '{{.State.Status}}')).toBe('exited');
    // A start is a new run: the policy holds again, and a kill through hutch keeps it down too.
    ok(['start', 'web'], box);
    expect(inspect('web', '{{.RestartCount}} {{.State.Status}}')).toBe('0 running');
    ok(['kill', 'web'], box);
    await until('killed', () => inspect('web', '{{.State.Status}}') === 'exited');
    await settled('web');
    expect(inspect('web', '{{.State.Status}}')).toBe('exited');
  });

  it('refuses what podman refuses, before anything exists', () => {
    const containers = () => ok(['ps', '-aq'], box);
    const before = containers();
    expect(fail(['run', '--rm', '--restart', 'always', 'localhost/busybox', 'true'], box)).toBe(
      'Error: the --rm option conflicts with --restart, when the restartPolicy is not "" and "no"',
    );
    expect(fail(['create', '--restart', 'always:3', 'localhost/busybox', 'true'], box)).toBe(
      'Error: restart policy retries can only be specified with on-failure restart policy',
    );
    expect(fail(['create', '--restart', 'sometimes', 'localhost/busybox', 'true'], box)).toBe(
      'Error: "sometimes" is not a valid restart policy: invalid argument',
    );
    expect(containers()).toBe(before);
  });
});
