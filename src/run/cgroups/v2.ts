/**
 * The cgroup v2 driver: one directory per cgroup and its interface files
 * (cgroup-v2.rst in the kernel's admin guide). Every function takes the
 * cgroup's absolute directory as this mount namespace sees it; hutch runs in
 * its session's user namespace, where the delegated files are its own (they
 * belong to the user, who is root there).
 *
 * Interface files are written with one write(2) each, without O_CREAT or
 * O_TRUNC (cgroupfs parses each write on its own), and errors come back as
 * SyscallError naming the file: `EBUSY: device or resource busy, write
 * '/sys/fs/cgroup/u/cgroup.subtree_control'`.
 */
import {
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HutchError, SyscallError } from '../../errors.js';
import { ifExists } from '../../fs/missing.js';

/** A Node fs error as a SyscallError naming the call and the path; other errors as they are. */
export function syscallError(error: unknown, syscall: string, path: string): unknown {
  const errno = (error as NodeJS.ErrnoException).errno;
  return typeof errno === 'number' ? new SyscallError(Math.abs(errno), syscall, path) : error;
}

/** Writes `value` to the interface file `name` of `dir` in one write(2). */
export function writeCgroupFile(dir: string, name: string, value: string): void {
  const path = join(dir, name);
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY);
  } catch (error) {
    throw syscallError(error, 'open', path);
  }
  try {
    writeSync(fd, Buffer.from(value));
  } catch (error) {
    throw syscallError(error, 'write', path);
  } finally {
    closeSync(fd);
  }
}

/** The text of an interface file; undefined when the cgroup or the file is not there. */
export function readCgroupFile(dir: string, name: string): string | undefined {
  try {
    return readFileSync(join(dir, name), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENODEV') return undefined;
    throw syscallError(error, 'read', join(dir, name));
  }
}

/** Flat keyed files (cgroup.events, memory.events, cpu.stat, pids.events): `key value` lines. */
export function parseKeyed(text: string | undefined): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of (text ?? '').split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key !== undefined && key !== '' && value !== undefined) values.set(key, Number(value));
  }
  return values;
}

export function hasFile(dir: string, name: string): boolean {
  return existsSync(join(dir, name));
}

/** The space-separated words of a file such as cgroup.controllers. */
export function readWords(dir: string, name: string): string[] {
  return (readCgroupFile(dir, name) ?? '').split(/\s+/).filter((w) => w !== '');
}

/** The processes directly in `dir` (cgroup.procs). */
export function processesOf(dir: string): number[] {
  return readWords(dir, 'cgroup.procs').map(Number);
}

/**
 * Moves a process into `dir`. The writer needs write access to cgroup.procs of
 * `dir` and of the nearest common ancestor of both cgroups (cgroup-v2.rst,
 * "Delegation Containment"); an unprivileged process can therefore not leave
 * its delegated subtree.
 */
export function moveProcess(dir: string, pid: number): void {
  writeCgroupFile(dir, 'cgroup.procs', String(pid));
}

/**
 * Enables controllers for the children of `dir` (cgroup.subtree_control), one
 * write each so a refusal names its controller. Idempotent. The kernel refuses
 * (EBUSY) while `dir` itself holds processes, unless it is the root.
 */
export function enableControllers(dir: string, controllers: readonly string[]): void {
  const enabled = readWords(dir, 'cgroup.subtree_control');
  for (const controller of controllers) {
    if (!enabled.includes(controller)) writeCgroupFile(dir, 'cgroup.subtree_control', `+${controller}`);
  }
}

/** Makes a cgroup; an existing one is reused (a start after a crash), if it holds no process. */
export function makeCgroup(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw syscallError(error, 'mkdir', dir);
    if (processesOf(dir).length > 0) {
      throw new HutchError(`the cgroup ${dir} exists and holds processes`, {
        hint: 'is the container running already? hutch ps shows it',
      });
    }
  }
}

/** cgroup.events: `populated` (processes here or below) and `frozen`. */
export function readEvents(dir: string): { populated: boolean; frozen: boolean } | undefined {
  const text = readCgroupFile(dir, 'cgroup.events');
  if (text === undefined) return undefined;
  const events = parseKeyed(text);
  return { populated: events.get('populated') === 1, frozen: events.get('frozen') === 1 };
}

/** Polls until `done` or the deadline; cgroupfs has no blocking read of cgroup.events. */
async function until(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    if (done()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(delay);
  }
}

/**
 * Freezes or thaws every process of the cgroup and its descendants
 * (cgroup.freeze) and resolves once cgroup.events says so. A frozen process
 * still dies of SIGKILL.
 */
export async function setFrozen(dir: string, frozen: boolean, timeoutMs = 10_000): Promise<void> {
  writeCgroupFile(dir, 'cgroup.freeze', frozen ? '1' : '0');
  const reached = await until(() => readEvents(dir)?.frozen === frozen, timeoutMs);
  if (!reached) {
    throw new HutchError(`the cgroup ${dir} did not ${frozen ? 'freeze' : 'thaw'} within ${timeoutMs / 1000} s`, {
      hint: frozen ? 'a process may be stuck in the kernel (state D); try again' : undefined,
    });
  }
}

/** The cgroup's own processes and those of its descendants. */
export function allProcesses(dir: string): number[] {
  const pids = processesOf(dir);
  // A cgroup removed meanwhile has no children; one that cannot be read throws.
  const entries =
    ifExists(() => readdirSync(dir, { withFileTypes: true }))
      ?.filter((e) => e.isDirectory())
      .map((e) => e.name) ?? [];
  for (const child of entries) pids.push(...allProcesses(join(dir, child)));
  return pids;
}

/**
 * Sends `signal` to every process of the cgroup and below. SIGKILL goes
 * through cgroup.kill (Linux 5.14) where there is one: the kernel kills them
 * all at once, so a forking process cannot escape. Otherwise each process is
 * signalled (and, for SIGKILL, the cgroup is frozen first so none forks meanwhile).
 */
export function signalCgroup(dir: string, signal: number): void {
  if (signal === 9 && hasFile(dir, 'cgroup.kill')) {
    writeCgroupFile(dir, 'cgroup.kill', '1');
    return;
  }
  for (const pid of allProcesses(dir)) {
    try {
      process.kill(pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw syscallError(error, 'kill', String(pid));
    }
  }
}

/**
 * Removes the cgroup and any cgroups below it, after killing what still runs
 * there and waiting until it is empty. Idempotent: a cgroup that is gone is fine.
 */
export async function removeCgroup(dir: string, timeoutMs = 10_000): Promise<void> {
  if (!existsSync(dir)) return;
  if (readEvents(dir)?.populated) {
    const frozenWas = readEvents(dir)?.frozen === true;
    signalCgroup(dir, 9);
    // SIGKILL passes the freezer; thawing as well leaves nothing of the cgroup waiting on a frozen one.
    if (frozenWas) writeCgroupFile(dir, 'cgroup.freeze', '0');
    const empty = await until(() => readEvents(dir)?.populated !== true, timeoutMs);
    if (!empty) {
      throw new HutchError(`the processes of cgroup ${dir} did not exit within ${timeoutMs / 1000} s of SIGKILL`, {
        hint: `they may be stuck in the kernel (state D): see ${join(dir, 'cgroup.procs')}`,
      });
    }
  }
  await removeTree(dir);
}

async function removeTree(dir: string): Promise<void> {
  let children: string[];
  try {
    children = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw syscallError(error, 'scandir', dir);
  }
  for (const child of children) await removeTree(join(dir, child));
  // rmdir fails with EBUSY for a moment after the last process left (it is still being reaped).
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || attempt >= 100) throw syscallError(error, 'rmdir', dir);
      await sleep(10);
    }
  }
}
