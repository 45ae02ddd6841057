/** The peers hutch is compared with (podman, skopeo), run as the test user with private storage. */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Podman {
  run(args: string[]): SpawnSyncReturns<string>;
  /** Kills podman's pause process of this runtime directory and removes its storage. */
  dispose(): void;
}

/**
 * Rootless podman with a storage of its own (vfs), and runc: crun refuses
 * this host's hybrid cgroup layout (HOST.md).
 */
export function podman(env: NodeJS.ProcessEnv): Podman {
  const root = mkdtempSync(join(tmpdir(), 'hutch-podman-'));
  const run = (args: string[]) =>
    spawnSync(
      'podman',
      [
        '--root',
        join(root, 'root'),
        '--runroot',
        join(root, 'run'),
        '--storage-driver',
        'vfs',
        '--runtime',
        'runc',
        ...args,
      ],
      { env, encoding: 'utf8' },
    );
  return {
    run,
    dispose() {
      run(['unshare', 'rm', '-rf', join(root, 'root'), join(root, 'run')]);
      try {
        const pause = join(env.XDG_RUNTIME_DIR as string, 'libpod', 'tmp', 'pause.pid');
        process.kill(Number(readFileSync(pause, 'utf8')), 'SIGKILL');
      } catch {
        // podman never started its pause process
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export function skopeo(args: string[], env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  return spawnSync('skopeo', args, { env, encoding: 'utf8' });
}
