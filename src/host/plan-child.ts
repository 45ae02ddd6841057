import { closeSync } from 'node:fs';
import { SyscallError } from '../errors.js';
import { native, type ChildReport, type ChildStatus } from '../native.js';
import type { Identity } from './identity.js';
import { singleIdMapping, writeIdMaps } from './idmap.js';
import { Clone, type Plan } from './plan.js';

/** The parent's side of a plan's sync socket, whoever cloned the child (the addon or hutch-monitor). */
export interface PlanChildLike {
  /** Lets a child blocked in a WaitParent step go on. */
  go(): void;
  /** Waits for NotifyParent(tag); throws the failing step's error instead. */
  reached(tag: number): Promise<void>;
  /** Waits until the child has exec'd (or left through an exit step). */
  done(): Promise<void>;
}

/** A failure report as the error of the step it names: `EPERM: operation not permitted, mount '/'`. */
export function planFailure(plan: Plan, report: ChildReport): SyscallError {
  const { syscall, path } = plan.describe(report.step);
  return new SyscallError(report.errno, syscall, path);
}

/**
 * A child cloned to run a plan, seen from the parent (runs in node's
 * namespaces). The sync socket carries the child's reports; EOF without a
 * failure report means it reached execve or an exit step.
 */
export class PlanChild implements PlanChildLike {
  readonly pid: number;
  private readonly pidfd: number;
  private syncFd: number;
  private status: ChildStatus | undefined;

  private constructor(
    private readonly plan: Plan,
    spawned: { pid: number; pidfd: number; syncFd: number },
  ) {
    this.pid = spawned.pid;
    this.pidfd = spawned.pidfd;
    this.syncFd = spawned.syncFd;
  }

  /** Clones the child with cloneFlags (CLONE_NEW* only) and starts the plan. */
  static start(plan: Plan, cloneFlags: number): PlanChild {
    return new PlanChild(plan, native.spawnPlan(plan.encode(), cloneFlags));
  }

  /** Lets a child blocked in a WaitParent step go on. */
  go(): void {
    native.sendByte(this.syncFd, 1);
  }

  /** The next report, or null when the child closed the socket (exec or exit). */
  async nextReport(): Promise<ChildReport | null> {
    if (this.syncFd < 0) return null;
    for (;;) {
      const report = native.recvReport(this.syncFd);
      if (report !== undefined) {
        if (report === null) this.closeSync();
        return report;
      }
      await native.pollReadable(this.syncFd);
    }
  }

  /** Waits for NotifyParent(tag); throws the failing step's error instead. */
  async reached(tag: number): Promise<void> {
    const report = await this.nextReport();
    if (report === null) throw await this.vanished();
    if (report.kind === 'failed') throw this.failure(report);
    if (report.tag !== tag) throw new Error(`plan child: expected notify ${tag}, got ${report.tag}`);
  }

  /** Waits until the child has exec'd (or left through an exit step). */
  async done(): Promise<void> {
    for (;;) {
      const report = await this.nextReport();
      if (report === null) return;
      if (report.kind === 'failed') throw this.failure(report);
    }
  }

  /** Waits for the child to exit and reaps it. */
  async wait(): Promise<ChildStatus> {
    while (this.status === undefined) {
      const status = native.waitPidfd(this.pidfd, false);
      if (status !== null) {
        this.status = status;
        closeSync(this.pidfd);
        break;
      }
      await native.pollReadable(this.pidfd);
    }
    return this.status;
  }

  kill(signal: number): void {
    if (this.status !== undefined) return;
    try {
      native.pidfdSendSignal(this.pidfd, signal);
    } catch (error) {
      if (!(error instanceof SyscallError && error.code === 'ESRCH')) throw error;
    }
  }

  /** Kills and reaps the child, for cleanup after a failed setup. */
  async abort(): Promise<void> {
    this.kill(9);
    this.closeSync();
    await this.wait();
  }

  private closeSync(): void {
    if (this.syncFd >= 0) {
      closeSync(this.syncFd);
      this.syncFd = -1;
    }
  }

  private failure(report: ChildReport): SyscallError {
    return planFailure(this.plan, report);
  }

  private async vanished(): Promise<Error> {
    const status = await this.wait();
    const how = status.signal !== null ? `was killed by signal ${status.signal}` : `exited with status ${status.code}`;
    return new Error(`the child process ${how} before it was ready`);
  }
}

/**
 * Runs plan in a child with cloneFlags; with CLONE_NEWUSER the plan must
 * start with waitParent(): the parent maps our own ids first. Resolves when
 * the child exited 0, rejects with the failing step's error.
 */
export async function runPlanChild(plan: Plan, cloneFlags: number, identity?: Identity): Promise<void> {
  const child = PlanChild.start(plan, cloneFlags);
  try {
    if ((cloneFlags & Clone.NEWUSER) !== 0) {
      if (identity === undefined) throw new Error('runPlanChild: a user namespace needs the identity to map');
      await writeIdMaps(child.pid, singleIdMapping(identity), {});
      child.go();
    }
    await child.done();
    const status = await child.wait();
    if (status.code !== 0) {
      throw new Error(
        status.signal !== null
          ? `the child was killed by signal ${status.signal}`
          : `the child exited with status ${status.code}`,
      );
    }
  } catch (error) {
    await child.abort();
    throw error;
  }
}
