import { closeSync } from 'node:fs';
import { constants } from 'node:os';
import { SyscallError } from '../errors.js';
import { native, type ChildStatus, type SyncRecord } from '../native.js';
import type { Identity } from './identity.js';
import { singleIdMapping, writeIdMaps } from './idmap.js';
import { Clone, type Plan } from './plan.js';

/** The byte that lets a child held in a WaitParent step go on (native/sync.h kSyncGo). */
const SYNC_GO = 1;

/**
 * Node's end of a plan's sync socket (native/sync.h), whoever cloned the child:
 * the addon (PlanChild) or hutch-monitor (startMonitor). Everything that fails
 * before the child's execve arrives here as one record; EOF without a failure
 * means the child reached execve or an exit step. Holds node's event loop only
 * while someone waits, and closes the fd once the conversation is over.
 */
export class PlanSync {
  /** Records read ahead by started(), for done(). */
  private readonly held: SyncRecord[] = [];

  constructor(
    private readonly plan: Plan,
    private fd: number,
  ) {}

  /**
   * Lets a child blocked in a WaitParent step go on. Returns false when the
   * child is gone already (done() and its exit status say why).
   */
  go(): boolean {
    if (this.fd < 0) return false;
    try {
      native.sendByte(this.fd, SYNC_GO);
      return true;
    } catch (error) {
      if (error instanceof SyscallError && (error.code === 'EPIPE' || error.code === 'ECONNRESET')) return false;
      throw error;
    }
  }

  /**
   * hutch-monitor's word: the pid of the child it cloned, or null when it
   * ended without one. Throws its refusal (TypeError) or the failure of its
   * setup (SyscallError). A failure of the child that came first is kept for done().
   */
  async started(): Promise<number | null> {
    for (;;) {
      const record = await this.receive();
      if (record === null) return null;
      if (record.kind === 'started') return record.value;
      if (record.kind === 'failed' && record.step >= 0) {
        this.held.push(record);
        continue;
      }
      this.close();
      throw this.failure(record);
    }
  }

  /** Waits until the child has exec'd (or left through an exit step); throws the failing step's error. */
  async done(): Promise<void> {
    for (;;) {
      const record = this.held.shift() ?? (await this.receive());
      if (record === null) return;
      if (record.kind === 'started') continue;
      this.close();
      throw this.failure(record);
    }
  }

  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
  }

  /** The next record from the socket, or null once the child closed it (exec or exit). */
  private async receive(): Promise<SyncRecord | null> {
    while (this.fd >= 0) {
      const record = native.recvSyncRecord(this.fd);
      if (record === null) break;
      if (record !== undefined) return record;
      await native.pollReadable(this.fd);
    }
    this.close();
    return null;
  }

  /**
   * A record as an error: a failed step as the SyscallError of its system call
   * (`EPERM: operation not permitted, mount '/'`), one of hutch-monitor's as
   * the call it names, a refusal as a TypeError.
   */
  private failure(record: SyncRecord): Error {
    if (record.kind === 'refused') return new TypeError(record.text);
    if (record.step >= 0) {
      const { syscall, path } = this.plan.describe(record.step);
      return new SyscallError(record.errno, syscall, path);
    }
    const [syscall, path] = record.text.split('\0', 2);
    return new SyscallError(record.errno, syscall === undefined || syscall === '' ? 'monitor' : syscall, path);
  }
}

/**
 * A child cloned by the addon to run a plan, seen from the parent (runs in
 * node's namespaces): its process (pid, pidfd) and its sync socket.
 */
export class PlanChild {
  readonly pid: number;
  private readonly pidfd: number;
  private readonly sync: PlanSync;
  private status: ChildStatus | undefined;

  private constructor(plan: Plan, spawned: { pid: number; pidfd: number; syncFd: number }) {
    this.pid = spawned.pid;
    this.pidfd = spawned.pidfd;
    this.sync = new PlanSync(plan, spawned.syncFd);
  }

  /** Clones the child with cloneFlags (CLONE_NEW* only) and starts the plan. */
  static start(plan: Plan, cloneFlags: number): PlanChild {
    return new PlanChild(plan, native.spawnPlan(plan.encode(), cloneFlags));
  }

  /** Lets a child blocked in a WaitParent step go on; throws EPIPE when it is gone. */
  go(): void {
    if (!this.sync.go()) throw new SyscallError(constants.errno.EPIPE, 'send');
  }

  /** Waits until the child has exec'd (or left through an exit step); throws the failing step's error. */
  done(): Promise<void> {
    return this.sync.done();
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
    this.sync.close();
    await this.wait();
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
      if (identity === undefined)
        throw new TypeError('run a plan child in a new user namespace: no identity was given to map');
      await writeIdMaps(child.pid, singleIdMapping(identity), {});
      child.go();
    }
    await child.done();
    const status = await child.wait();
    if (status.code !== 0) {
      throw new Error(
        status.signal !== null
          ? `run a plan child: it was killed by signal ${status.signal}`
          : `run a plan child: it exited with status ${status.code}`,
      );
    }
  } catch (error) {
    await child.abort();
    throw error;
  }
}
