/**
 * requires('userns', 'subuid', …): probes each capability by trying it. Locally
 * a missing one skips the suite with the reason; in CI (CI=true) it fails it,
 * because CI provisions everything and a skip there would hide a broken host.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';

export type Capability = 'unprivileged' | 'userns' | 'subuid' | 'newuidmap' | 'built' | 'otherUser';

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
  if (process.env.CI === 'true') throw new Error(`missing prerequisite in CI: ${reason}`);
  console.warn(`skipping: ${reason}`);
  return { skip: true, reason };
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
