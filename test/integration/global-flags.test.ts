/**
 * podman's global flags before the verb, as the unprivileged user: --root and
 * --runroot keep a store of their own (the monitor's cleanup of a container
 * started there finds it too), --storage-driver vfs copies, --noout,
 * --log-level, and the flags hutch refuses or only checks.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hutch, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

describe.skipIf(need.skip)('global flags', () => {
  let box: Sandbox;
  let alt: string;
  let flags: string[];

  beforeAll(async () => {
    box = sandbox();
    alt = mkdtempSync(join(tmpdir(), 'hutch-root-'));
    flags = ['--root', join(alt, 'root'), '--runroot', join(alt, 'run')];
    ok([...flags, 'import', await busyboxRootfsTar(), 'busybox'], box);
  });
  afterAll(() => {
    hutch([...flags, 'rm', '-t', '0', '-a', '-f'], box);
    box.dispose(alt);
  });

  it('--root and --runroot keep images and containers apart from the default store', () => {
    expect(ok(['images', '-q'], box)).toBe('');
    expect(ok([...flags, 'images', '-q'], box).trim()).toMatch(/^[0-9a-f]{12}$/);
    const id = ok([...flags, '--storage-driver', 'vfs', 'run', '-d', 'busybox', 'sh', '-c', 'sleep 0.3'], box).trim();
    expect(ok(['ps', '-a', '-q'], box)).toBe('');
    expect(existsSync(join(alt, 'root', 'containers', id, 'config.json'))).toBe(true);
    expect(existsSync(join(alt, 'run', 'containers', id))).toBe(true);
    expect(JSON.parse(readFileSync(join(alt, 'root', 'containers', id, 'config.json'), 'utf8')).rootfsDriver).toBe(
      'copy',
    );
    // The monitor's cleanup command, run when the container exits, writes its exit in the same store.
    expect(ok([...flags, 'wait', id], box)).toBe('0\n');
    const recorded = () =>
      (JSON.parse(readFileSync(join(alt, 'root', 'containers', id, 'state.json'), 'utf8')) as { status: string })
        .status;
    for (let i = 0; i < 100 && recorded() !== 'exited'; i++) pause(50);
    expect(recorded()).toBe('exited');
  });

  it('--noout prints nothing on stdout; --log-level prints logrus lines on stderr', () => {
    const quiet = hutch([...flags, '--noout', 'create', 'busybox', 'true'], box);
    expect([quiet.status, quiet.stdout]).toEqual([0, '']);
    const debug = hutch([...flags, '--log-level', 'debug', 'ps', '-q'], box);
    expect(debug.status).toBe(0);
    expect(debug.stderr).toMatch(/^time="[^"]+" level=info msg="hutch filtering at log level debug"$/m);
    expect(debug.stderr).toContain(`level=debug msg="Using graph root ${join(alt, 'root')}"`);
    expect(hutch([...flags, '--log-level', 'warn', 'ps', '-q'], box).stderr).toBe('');
    const bad = hutch(['--log-level', 'telepathic', 'ps'], box);
    expect([bad.status, bad.stderr]).toEqual([
      1,
      'Log Level "telepathic" is not supported, choose from: trace, debug, info, warn, warning, error, fatal, panic\n',
    ]);
  });

  it('refuses what hutch has not, and checks what it only accepts', () => {
    const refused = (args: string[]) => {
      const result = hutch([...args, 'ps'], box);
      expect(result.status).toBe(125);
      return result.stderr.split('\n')[0];
    };
    expect(refused(['--storage-driver', 'btrfs'])).toMatch(/^Error: unsupported storage driver "btrfs"/);
    expect(refused(['--remote'])).toMatch(/^Error: --remote is not supported/);
    expect(refused(['--runtime', 'idonotexist'])).toBe(
      'Error: default OCI runtime "idonotexist" not found: invalid argument',
    );
    const accepted = hutch(
      ['--runtime', 'sh', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', '--tmpdir', alt, 'ps', '-q'],
      box,
    );
    expect(accepted.status).toBe(0);
  });
});

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
