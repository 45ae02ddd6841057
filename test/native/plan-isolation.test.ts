// What the plan executor guarantees a container against the host, checked on
// real children: the fds a plan closes (CloseFrom keeps only what it names) and
// the working-directory check after a chdir (VerifyCwd, CVE-2024-21626). That
// nothing inspects a child before its execve is hutch-monitor's part
// (test/native/monitor.test.ts).
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SyscallError } from '../../src/errors.js';
import { PlanChild } from '../../src/host/plan-child.js';
import { Clone, Plan, PlanOp } from '../../src/host/plan.js';
import { requires } from '../helpers/requires.js';

const scratchDirs: string[] = [];
afterAll(() => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hutch-isolation-'));
  scratchDirs.push(dir);
  return dir;
}

/** The outcome of a plan: its exit code, or the failure it reported. */
async function outcome(
  plan: Plan,
  cloneFlags = 0,
  beforeGo?: (child: PlanChild) => void,
): Promise<number | SyscallError> {
  const child = PlanChild.start(plan, cloneFlags);
  try {
    beforeGo?.(child);
    if (plan.steps[0]?.op === PlanOp.WaitParent) child.go();
    await child.done();
  } catch (error) {
    await child.wait();
    if (error instanceof SyscallError) return error;
    throw error;
  }
  return (await child.wait()).code ?? -1;
}

/** Maps the child's user namespace to our own ids (no newuidmap needed). */
function mapSelf(child: PlanChild): void {
  writeFileSync(`/proc/${child.pid}/setgroups`, 'deny');
  writeFileSync(`/proc/${child.pid}/uid_map`, `0 ${process.getuid?.()} 1\n`);
  writeFileSync(`/proc/${child.pid}/gid_map`, `0 ${process.getgid?.()} 1\n`);
}

describe('CloseFrom', () => {
  it('closes every fd from the first but the one it keeps, below or above the sync socket', async () => {
    const dir = scratch();
    const low = openSync(join(dir, 'low'), 'w');
    const fds = Array.from({ length: 120 }, (_, i) => openSync(join(dir, `f${i}`), 'w'));
    const high = fds.at(-1) as number;
    try {
      for (const keep of [low, high]) {
        const other = keep === low ? high : low;
        expect(await outcome(new Plan().closeFrom(3, { keep }).dup2(keep, 50).exit(0))).toBe(0);
        const error = await outcome(new Plan().closeFrom(3, { keep }).dup2(other, 50).exit(0));
        expect(error).toBeInstanceOf(SyscallError);
        expect((error as SyscallError).code).toBe('EBADF');
      }
      // Without keep, nothing from first on survives (the sync socket still reports the failure).
      const error = await outcome(new Plan().closeFrom(3).dup2(low, 50).exit(0));
      expect((error as SyscallError).code).toBe('EBADF');
    } finally {
      for (const fd of [low, ...fds]) closeSync(fd);
    }
  });
});

describe('VerifyCwd', () => {
  const userns = requires('userns');

  it.skipIf(userns.skip)('refuses a working directory the root cannot reach (EXDEV, getcwd)', async () => {
    const dir = scratch();
    const root = join(dir, 'root');
    mkdirSync(join(root, 'inside'), { recursive: true });
    // chroot(2) leaves the cwd where it was: outside the new root, as an inherited directory fd would.
    const escaped = await outcome(
      new Plan().waitParent().chdir(dir).chroot(root).verifyCwd('/work').exit(0),
      Clone.NEWUSER,
      mapSelf,
    );
    expect(escaped).toBeInstanceOf(SyscallError);
    expect((escaped as SyscallError).code).toBe('EXDEV');
    expect((escaped as SyscallError).syscall).toBe('getcwd');
    expect((escaped as SyscallError).path).toBe('/work');
    const inside = await outcome(
      new Plan().waitParent().chroot(root).chdir('/inside').verifyCwd('/inside').exit(0),
      Clone.NEWUSER,
      mapSelf,
    );
    expect(inside).toBe(0);
  });
});
