/**
 * Boots a user-mode-linux guest (Debian's user-mode-linux: a 6.1 kernel with
 * cgroup v2 cpu, memory, pids and io) on the host's root file system and runs
 * jobs in it as the unprivileged test user, in a cgroup subtree delegated to
 * that user (test/guest/init.sh). This host's cgroups are a v1/v2 hybrid, so
 * real limits can only be proved here.
 *
 * A boot takes a directory of its own under the host's tmp dir: the jobs
 * (run.sh from a leaf of the delegated subtree, flat.sh from the root of a
 * subtree without a leaf, undelegated.sh from a cgroup of root's), whatever files they need, and afterwards their
 * output (JOB.out, JOB.err, JOB.status) and the init's log. Everything else
 * the jobs write must go to the guest's tmpfs (/tmp): hostfs writes as the
 * host user and cannot chown to subordinate ids.
 */
import { spawn } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/requires.js';

export const guestKernel = '/usr/bin/linux.uml';
export const guestInit = join(repoRoot, 'test', 'guest', 'init.sh');

/** The guest kernel's version, from its module directory (Debian ships one). */
function moduleVersion(): string | undefined {
  try {
    return readdirSync('/usr/lib/uml/modules')[0];
  } catch {
    return undefined;
  }
}

function whyNoGuest(): string | null {
  if (process.getuid?.() === 0) return 'runs as root; the guest runs hutch as the unprivileged test user';
  try {
    accessSync(guestKernel, constants.X_OK);
  } catch {
    return `${guestKernel} is missing (Debian package user-mode-linux; scripts/test installs it)`;
  }
  if (moduleVersion() === undefined) return 'no guest kernel modules in /usr/lib/uml/modules (package user-mode-linux)';
  for (const tool of ['/usr/bin/setpriv', '/usr/sbin/insmod', '/bin/busybox']) {
    if (!existsSync(tool)) return `${tool} is missing (packages util-linux, kmod, busybox-static)`;
  }
  try {
    accessSync('/dev/shm', constants.W_OK);
  } catch {
    return '/dev/shm is not writable: user-mode-linux keeps the guest memory there';
  }
  return null;
}

/** Locally a missing guest skips with the reason; in CI (CI=true) it fails, as requires() does. */
export function guestRequirement(): { skip: boolean; reason: string | undefined } {
  const reason = whyNoGuest();
  if (reason === null) return { skip: false, reason: undefined };
  if (process.env.CI === 'true') throw new Error(`missing prerequisite in CI: guest: ${reason}`);
  console.warn(`skipping: guest: ${reason}`);
  return { skip: true, reason };
}

export interface GuestOptions {
  /** run.sh: a POSIX shell script, run as the test user from a leaf of the delegated subtree. */
  run: string;
  /** flat.sh: run afterwards from the root of a delegated subtree that has no leaf. */
  flat?: string;
  /** undelegated.sh: run last from a cgroup that belongs to root (no delegation at all). */
  undelegated?: string;
  /** More files for the jobs, by name, in the boot's directory (/run/guest in the guest). */
  files?: Record<string, string | Buffer>;
  /** A sparse scratch disk of this many MiB, /dev/ubda in the guest (readable by the user). */
  diskMiB?: number;
  /** Guest memory (default 768M). */
  memory?: string;
  /** Kill the guest after this long (default 5 minutes). */
  timeoutMs?: number;
}

export interface JobResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface GuestRun {
  run: JobResult;
  flat: JobResult | undefined;
  undelegated: JobResult | undefined;
  /** The boot's directory on the host, with the jobs' other outputs. */
  dir: string;
  /** The kernel console and init's log, for failure messages. */
  console: string;
  seconds: number;
  /** Removes the boot's directory. */
  dispose(): void;
}

function readJob(dir: string, job: string): JobResult | undefined {
  const read = (name: string) => {
    try {
      return readFileSync(join(dir, name), 'utf8');
    } catch {
      return undefined;
    }
  };
  const status = read(`${job}.status`);
  const stdout = read(`${job}.out`);
  if (status === undefined && stdout === undefined) return undefined;
  return {
    status: status === undefined ? null : Number(status.trim()),
    stdout: stdout ?? '',
    stderr: read(`${job}.err`) ?? '',
  };
}

/** Boots the guest, runs the jobs, and resolves once it powered off (or was killed at the timeout). */
export async function bootGuest(options: GuestOptions): Promise<GuestRun> {
  const dir = mkdtempSync(join(tmpdir(), 'hutch-guest-'));
  writeFileSync(join(dir, 'run.sh'), options.run);
  if (options.flat !== undefined) writeFileSync(join(dir, 'flat.sh'), options.flat);
  if (options.undelegated !== undefined) writeFileSync(join(dir, 'undelegated.sh'), options.undelegated);
  for (const [name, content] of Object.entries(options.files ?? {})) writeFileSync(join(dir, name), content);
  const args = [
    `mem=${options.memory ?? '768M'}`,
    'root=/dev/root',
    'rootfstype=hostfs',
    'rootflags=/',
    'rw',
    'con=null',
    'con0=null,fd:1',
    'loglevel=3',
    `HUTCH_GUEST_DIR=${dir}`,
    `HUTCH_GUEST_REPO=${repoRoot.replace(/\/$/, '')}`,
    `HUTCH_GUEST_UID=${process.getuid?.()}`,
    `HUTCH_GUEST_GID=${process.getgid?.()}`,
    `HUTCH_GUEST_HOME=${process.env.HOME ?? homedir()}`,
    `HUTCH_GUEST_CI=${process.env.CI ?? ''}`,
  ];
  if (options.diskMiB !== undefined) {
    const disk = join(dir, 'disk.img');
    writeFileSync(disk, '');
    truncateSync(disk, options.diskMiB * 1024 * 1024);
    args.push(`ubd0=${disk}`);
  }
  // The init script is passed to /bin/sh, so it needs no execute bit in the checkout.
  args.push('init=/bin/sh', '--', guestInit);
  const started = Date.now();
  // Its own process group, so a timeout kills every host process of the guest.
  const child = spawn(guestKernel, args, {
    cwd: dir,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: '/usr/bin:/bin', HOME: process.env.HOME ?? homedir(), TMPDIR: '/dev/shm', USER: userInfo().username },
  });
  let console = '';
  child.stdout.on('data', (chunk: Buffer) => (console += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (console += chunk.toString('utf8')));
  const timeoutMs = options.timeoutMs ?? 300_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      // gone already
    }
  }, timeoutMs);
  await new Promise<void>((resolve) => child.on('close', () => resolve()));
  clearTimeout(timer);
  let init = '';
  try {
    init = readFileSync(join(dir, 'init.log'), 'utf8');
  } catch {
    // init never got as far as its log
  }
  const log = `${timedOut ? `guest killed after ${timeoutMs / 1000} s\n` : ''}${console}${init === '' ? '' : `\n--- init.log\n${init}`}`;
  const run = readJob(dir, 'run');
  if (run === undefined) throw new Error(`the guest did not run its job:\n${log}`);
  return {
    run,
    flat: readJob(dir, 'flat'),
    undelegated: readJob(dir, 'undelegated'),
    dir,
    console: log,
    seconds: (Date.now() - started) / 1000,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
