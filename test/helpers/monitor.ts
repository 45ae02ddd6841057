/** What the tests of hutch-monitor share: plans of a plain command, the options, waiting. */
import { join } from 'node:path';
import { addContainerStdio, type MonitorOptions } from '../../src/run/monitor.js';
import { Plan } from '../../src/host/plan.js';

export const TEST_ENV = ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'];
export const SEARCH = '/usr/bin:/bin';

/** A container plan without namespaces: held until go() (unless wait is false), stdio from the monitor, then exec. */
export function commandPlan(argv: string[], options: { terminal?: boolean; wait?: boolean } = {}): Plan {
  const plan = addContainerStdio(options.wait === false ? new Plan() : new Plan().waitParent(), {
    terminal: options.terminal ?? false,
  });
  return plan.exec(argv[0] as string, argv, TEST_ENV, SEARCH);
}

/** startMonitor's options for a plan in dir, logging to dir/ctr.log. */
export function monitorOptions(dir: string, plan: Plan, extra: Partial<MonitorOptions> = {}): MonitorOptions {
  return {
    id: 'test',
    dir,
    log: join(dir, 'ctr.log'),
    plan,
    cloneFlags: 0,
    terminal: false,
    stdin: false,
    detach: false,
    ...extra,
  };
}

/** Polls probe every 20 ms until it returns a value. */
export async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
