/**
 * requires('userns', 'subuid', …): probes each capability by trying it. Locally
 * a missing one skips the suite with the reason; in CI (CI=true) it fails it,
 * because CI provisions everything and a skip there would hide a broken host.
 *
 * The one exception is what a pass of scripts/test lacks by design: the user
 * pass (the default) is not root, and the root pass (HUTCH_TEST_PASS=root,
 * after it) is not unprivileged. There a suite that needs 'root' (or
 * 'unprivileged') skips even in CI, because the other pass runs it. scripts/test
 * runs as root every test file that has requires(…'root'…) in it, and fails
 * if one of its tests fails or skips for any other reason.
 *
 * A test that finds its prerequisite missing only while it runs calls
 * unmet(context, reason): the same rule, for one test.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { TestContext } from 'vitest';

export type Capability =
  | 'unprivileged'
  | 'root'
  | 'userns'
  | 'subuid'
  | 'newuidmap'
  | 'built'
  | 'otherUser'
  /** Programs on PATH that hutch uses when they are there. */
  | 'pigz'
  | 'zstd'
  /** Debian's podman-compose (1.0.3), which drives hutch in the compose test. */
  | 'podmanCompose'
  /** The kernel's UAPI headers and cpp, which scripts/gen-syscalls.mjs reads (linux-libc-dev, cpp). */
  | 'kernelHeaders';

/** The pass of scripts/test this is: the user pass (default) or the root pass after it. */
export const testPass: 'user' | 'root' = process.env.HUTCH_TEST_PASS === 'root' ? 'root' : 'user';
/** What this pass lacks by design: a suite that needs it runs in the other pass. */
const otherPass: Capability = testPass === 'root' ? 'unprivileged' : 'root';

function onPath(program: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${program}`]).status === 0;
}

export const repoRoot = new URL('../../', import.meta.url).pathname;
export const hutchBin = `${repoRoot}bin/hutch`;

/**
 * Where scripts/provision (provision_other_user) lets a second local user make
 * directories in the places the test user's credentials would go.
 */
export function otherUserStage(): string {
  return `/var/tmp/hutch-squat-${process.getuid?.()}`;
}

function probe(capability: Capability): string | null {
  switch (capability) {
    case 'unprivileged':
      return process.getuid?.() === 0 ? 'runs as root; rootless tests need an unprivileged user (see README)' : null;
    case 'root':
      return process.getuid?.() === 0
        ? null
        : 'runs as an unprivileged user; scripts/test runs this as root after the user pass';
    case 'pigz':
    case 'zstd':
      return onPath(capability) ? null : `${capability} is not on PATH (Debian package ${capability})`;
    case 'podmanCompose':
      return onPath('podman-compose') ? null : 'podman-compose is not on PATH (Debian package podman-compose)';
    case 'kernelHeaders':
      if (!existsSync('/usr/include/linux/version.h')) return 'no kernel headers in /usr/include (linux-libc-dev)';
      return onPath('cpp') ? null : 'cpp is not installed (Debian package cpp)';
    case 'userns': {
      const result = spawnSync('unshare', ['--user', 'true'], { encoding: 'utf8' });
      return result.status === 0 ? null : `cannot create a user namespace: ${result.stderr.trim() || result.error}`;
    }
    case 'subuid': {
      const { username } = userInfo();
      const uid = String(process.getuid?.());
      for (const file of ['/etc/subuid', '/etc/subgid']) {
        let text = '';
        try {
          text = readFileSync(file, 'utf8');
        } catch {
          return `${file} does not exist`;
        }
        const mine = text.split('\n').some((l) => l.startsWith(`${username}:`) || l.startsWith(`${uid}:`));
        if (!mine) return `no range for ${username} in ${file}`;
      }
      return null;
    }
    case 'newuidmap':
      for (const helper of ['/usr/bin/newuidmap', '/usr/bin/newgidmap']) {
        try {
          if ((statSync(helper).mode & 0o4000) === 0) return `${helper} is not setuid`;
        } catch {
          return `${helper} is missing (package uidmap)`;
        }
      }
      return null;
    case 'otherUser': {
      const uid = process.getuid?.();
      const planted = `${otherUserStage()}/tmp/podman-run-${uid}`;
      try {
        if (statSync(planted).uid === uid)
          return `${planted} is yours, not another user's (run scripts/provision as root)`;
      } catch {
        return `${planted} is missing: as root, run scripts/provision (a second user makes it)`;
      }
      // The tests hide /run/user with a mount namespace of their own.
      const result = spawnSync('unshare', ['--user', '--map-root-user', '--mount', 'true'], { encoding: 'utf8' });
      return result.status === 0 ? null : `cannot unshare a mount namespace: ${result.stderr.trim() || result.error}`;
    }
    case 'built':
      try {
        accessSync(hutchBin, constants.X_OK);
        accessSync(`${repoRoot}dist/hutch.cjs`, constants.R_OK);
        return null;
      } catch {
        return 'hutch is not built (npm run build)';
      }
  }
}

export interface Requirement {
  /** True when the suite must be skipped (never in CI). */
  skip: boolean;
  reason: string | undefined;
}

export function requires(...capabilities: Capability[]): Requirement {
  const missing = capabilities.map((c) => [c, probe(c)] as const).filter(([, reason]) => reason !== null);
  if (missing.length === 0) return { skip: false, reason: undefined };
  const reason = missing.map(([c, r]) => `${c}: ${r}`).join('; ');
  // A root pass that is not root is a broken run, wherever it runs.
  if (testPass === 'root' && missing.some(([c]) => c === 'root'))
    throw new Error(`the root pass is not root: ${reason}`);
  if (missing.some(([c]) => c === otherPass)) {
    console.warn(`skipping in the ${testPass} pass: ${reason}`);
    return { skip: true, reason };
  }
  return prerequisite(reason);
}

/**
 * A prerequisite a suite probed itself: `reason` says what is missing
 * (undefined: nothing). Skips locally, fails in CI, as requires() does.
 */
export function prerequisite(reason: string | undefined): Requirement {
  if (reason === undefined) return { skip: false, reason: undefined };
  if (process.env.CI === 'true') throw new Error(`missing prerequisite in CI: ${reason}`);
  console.warn(`skipping: ${reason}`);
  return { skip: true, reason };
}

/** For a prerequisite found missing inside a test: skips it locally, fails it in CI. */
export function unmet(context: TestContext, reason: string): never {
  if (process.env.CI === 'true') throw new Error(`missing prerequisite in CI: ${reason}`);
  return context.skip(reason);
}

/** Programs that are not on PATH, as a reason for prerequisite() (undefined: all are there). */
export function missingPrograms(...programs: string[]): string | undefined {
  const missing = programs.filter((p) => !onPath(p));
  return missing.length === 0 ? undefined : `not installed: ${missing.join(', ')}`;
}

/** The current user's ranges in a subid file (/etc/subuid, /etc/subgid), in file order. */
export function subidRanges(file: string): { start: number; count: number }[] {
  const { username } = userInfo();
  const uid = String(process.getuid?.());
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => f.length === 3 && (f[0] === username || f[0] === uid))
    .map((f) => ({ start: Number(f[1]), count: Number(f[2]) }));
}
