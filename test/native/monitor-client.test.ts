// hutch-monitor --die-with-client for real: the container of a monitor
// started with dieWithClient dies when its client lets go of the fd, and when
// the client process is killed (SIGKILL: the kernel closes the fd), as a
// build's RUN must die with `hutch build`. No namespaces: runs as any user.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AttachClient, monitorArgs, readExitFile, startMonitor } from '../../src/run/monitor.js';
import { Plan } from '../../src/host/plan.js';
import { repoRoot } from '../helpers/requires.js';
import { bundleForNode } from '../helpers/bundle.js';
import { commandPlan, monitorOptions, SEARCH, TEST_ENV, until } from '../helpers/monitor.js';

const scratch = () => mkdtempSync(join(tmpdir(), 'hutch-monitor-client-'));

const sleeper = (seconds: number): Plan => commandPlan(['sleep', String(seconds)]);

/** Whether pid runs (a zombie has exited: it only waits for its parent). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

const base = (dir: string, plan: Plan) => monitorOptions(dir, plan, { id: 'client-test' });

describe('hutch-monitor --die-with-client', () => {
  it('is passed as fd 5 only when asked for', () => {
    const dir = scratch();
    expect(monitorArgs(base(dir, sleeper(1)))).not.toContain('--die-with-client');
    expect(monitorArgs({ ...base(dir, sleeper(1)), dieWithClient: true }).join(' ')).toContain('--die-with-client 5');
  });

  it('kills the container when the client lets go of its end', async () => {
    const dir = scratch();
    const started = await startMonitor({ ...base(dir, sleeper(60)), dieWithClient: true });
    const client = await AttachClient.connect(dir);
    started.sync.go();
    await started.sync.done();
    expect(alive(started.containerPid)).toBe(true);
    started.release();
    expect(await client.exit).toEqual({ exitCode: null, signal: 9 });
    expect(readExitFile(dir)).toMatchObject({ exitCode: null, signal: 9 });
  });

  it('leaves a container that ends by itself alone, its status as usual', async () => {
    const dir = scratch();
    const plan = commandPlan(['sh', '-c', 'exit 4']);
    const started = await startMonitor({ ...base(dir, plan), dieWithClient: true });
    const client = await AttachClient.connect(dir);
    started.sync.go();
    expect(await client.exit).toEqual({ exitCode: 4, signal: null });
    started.release();
    expect(await started.exited).toEqual({ code: 0, signal: null });
  });

  it('kills the container when the client process is killed with SIGKILL', async () => {
    const dir = scratch();
    // A node process that starts the container, reports, and is then SIGKILLed: no code of it runs after.
    const script = join(scratch(), 'client.mjs');
    await bundleForNode(
      {
        code: `
          import { addContainerStdio, startMonitor } from '../../src/run/monitor.js';
          import { Plan } from '../../src/host/plan.js';
          const [dir] = process.argv.slice(2);
          const plan = addContainerStdio(new Plan().waitParent(), { terminal: false }).exec(
            'sleep', ['sleep', '60'], ${JSON.stringify(TEST_ENV)}, '${SEARCH}');
          const started = await startMonitor({
            id: 'killed-client', dir, log: dir + '/ctr.log', plan, cloneFlags: 0, terminal: false, stdin: false,
            detach: false, dieWithClient: true,
          });
          started.sync.go();
          await started.sync.done();
          console.log(JSON.stringify({ monitorPid: started.monitorPid, containerPid: started.containerPid }));
          process.kill(process.pid, 'SIGKILL');
        `,
        resolveDir: join(repoRoot, 'test/native'),
      },
      script,
    );
    const client = spawnSync(process.execPath, [script, dir], { encoding: 'utf8', timeout: 20_000 });
    expect(client.signal, client.stderr).toBe('SIGKILL');
    const { monitorPid, containerPid } = JSON.parse(client.stdout) as { monitorPid: number; containerPid: number };
    expect(await until('the exit file', () => readExitFile(dir))).toMatchObject({ exitCode: null, signal: 9 });
    await until('the container and the monitor to be gone', () =>
      alive(containerPid) || alive(monitorPid) ? undefined : true,
    );
  });
});
