/**
 * Faults: hutch killed with SIGKILL at random moments of pull (from a real
 * registry on 127.0.0.1; every other one interrupted with SIGINT, as Ctrl-C
 * does), build (during a RUN, and during its layer commit), push, run and
 * rm, as the unprivileged user. After each kill and the next
 * ordinary command (images, ps, run, inspect; rm for rm), without --repair:
 *
 * - `hutch system check` finds the store consistent and no leftover;
 * - the store's tmp/ is empty and nothing of the store is mounted in the
 *   session's mount namespace (its mountinfo, read from outside);
 * - no process of the killed command's RUN (or any container) survives;
 * - every image in the store runs.
 *
 * HUTCH_FAULT_ITERATIONS sets the number of kills (default 100 in CI, 30
 * elsewhere), HUTCH_FAULT_BUDGET_S bounds the time they take (no new
 * iteration starts after it; default 150 s, in CI 450 s: there the suite runs
 * several files at once, and every kill is to happen, not as many as fit in
 * 150 s), HUTCH_FAULT_SEED replays a sequence (the seed is printed).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  delay,
  killDuring,
  outputShows,
  processesWith,
  sandboxProcesses,
  seededRandom,
  sessionMountsUnder,
  tmpEntries,
  waitFor,
  type Killed,
} from '../helpers/faults.js';
import { hutch, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { needRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');
const needReg = needRegistry();
const skip = need.skip || needReg.skip;

const CI = process.env.CI === 'true';
const ITERATIONS = Number(process.env.HUTCH_FAULT_ITERATIONS ?? (CI ? 100 : 30));
const BUDGET_MS = Number(process.env.HUTCH_FAULT_BUDGET_S ?? (CI ? 450 : 150)) * 1000;
const SEED = Number(process.env.HUTCH_FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));
const tls = '--tls-verify=false';

type Kind = 'pull' | 'build-run' | 'build-commit' | 'push' | 'run' | 'rm';
/** How the kills are spread: each kind's share of the iterations. */
const SHARES: [Kind, number][] = [
  ['pull', 0.25],
  ['build-run', 0.18],
  ['build-commit', 0.18],
  ['push', 0.14],
  ['run', 0.15],
  ['rm', 0.1],
];

describe.skipIf(skip)('faults: SIGKILL at random points, then the next ordinary command', () => {
  let registry: TestRegistry;
  let box: Sandbox;
  let storage: string;
  let work: string;
  let big: string;
  const random = seededRandom(SEED);
  /** Uncut durations of each kind, measured once: kills fall anywhere in them. */
  const typical = new Map<string, number>();

  const timed = (args: string[]): number => {
    const started = Date.now();
    ok(args, box);
    return Date.now() - started;
  };
  /** Whether the store names an image so (read from oci/index.json: one hutch command less per iteration). */
  const hasImage = (name: string): boolean => {
    const index = JSON.parse(readFileSync(join(storage, 'oci', 'index.json'), 'utf8')) as {
      manifests: { annotations?: Record<string, string> }[];
    };
    return index.manifests.some((e) => {
      const stored = e.annotations?.['org.opencontainers.image.ref.name'];
      return stored === name || stored?.endsWith(`/${name}`) === true;
    });
  };

  /** A context whose single RUN prints start-TOKEN, writes 1 MB of random bytes, and prints end-TOKEN. */
  const buildContext = (token: string, sleep: string): string => {
    const dir = join(work, token);
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'Containerfile'),
      `FROM busybox\nRUN echo start-${token} && head -c 1000000 /dev/urandom > /data && sleep ${sleep} && echo end-${token}\n`,
    );
    return dir;
  };

  beforeAll(async () => {
    registry = await startRegistry();
    box = sandbox();
    storage = join(box.env.XDG_DATA_HOME as string, 'hutch');
    work = mkdtempSync(join(tmpdir(), 'hutch-faults-'));
    const rootfs = await busyboxRootfsTar();
    // The image pulls are cut in: 24 MB of random bytes in one layer over busybox. Made and pushed from a
    // store of its own: this one's build cache would keep the layer through rmi, and every pull skip it.
    big = `${registry.host}/big:1`;
    const dir = join(work, 'big');
    mkdirSync(dir);
    const maker = sandbox();
    try {
      ok(['import', rootfs, 'busybox'], maker);
      writeFileSync(join(dir, 'Containerfile'), 'FROM busybox\nRUN head -c 24000000 /dev/urandom > /blob\n');
      ok(['build', '-q', '--network', 'none', '-t', big, dir], maker);
      ok(['push', tls, big], maker);
    } finally {
      maker.dispose();
    }
    ok(['import', rootfs, 'busybox'], box);
    // The pushes that are cut in send this one (never removed), each to a new repository.
    writeFileSync(join(dir, 'Containerfile'), 'FROM busybox\nRUN head -c 4000000 /dev/urandom > /blob\n');
    ok(['build', '-q', '--network', 'none', '-t', 'pushed', dir], box);
    typical.set('push', timed(['push', tls, 'pushed', `${registry.host}/calibrate:1`]));
    // A whole download; rmi then removes the layer, so that the pulls below fetch it (or resume it).
    typical.set('pull', timed(['pull', '-q', tls, big]));
    ok(['rmi', big], box);
    typical.set('run', timed(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'sleep 0.2']));
    const id = ok(['run', '-d', '--network', 'none', 'busybox', 'sleep', '60'], box).trim();
    typical.set('rm', timed(['rm', '-t', '0', '-f', id]));
    console.log(`faults: seed ${SEED}; uncut durations (ms): ${JSON.stringify(Object.fromEntries(typical))}`);
  }, 300_000);
  afterAll(async () => {
    box?.dispose(work);
    await registry?.stop();
  });

  /** One kill of one kind; returns what the killed command did. */
  const inflict = async (kind: Kind, i: number): Promise<{ killed: Killed; token: string; cleanup: string[] }> => {
    const token = `fault${SEED}x${i}`;
    const uniform = (ms: number) => Math.floor(random() * ms);
    const at = (ms: number) => () => delay(uniform(ms));
    switch (kind) {
      case 'pull': {
        if (hasImage(big)) ok(['rmi', big], box);
        // Every other pull gets Ctrl-C's SIGINT instead of SIGKILL: node's default action, no cleanup either.
        const signal = i % 2 === 0 ? 'SIGKILL' : 'SIGINT';
        const killed = await killDuring(['pull', tls, big], box, at((typical.get('pull') ?? 1000) * 1.2), signal);
        return { killed, token, cleanup: ['images'] };
      }
      case 'build-run':
      case 'build-commit': {
        // A RUN cut in the middle sleeps for 30 s: only its death with the build ends it sooner.
        const dir = buildContext(token, kind === 'build-run' ? '30' : (0.1 + random() * 0.2).toFixed(2));
        const network = i % 3 === 0 ? [] : ['--network', 'none'];
        const args = ['build', ...network, '-t', `fault-build:${i}`, dir];
        // During the RUN: after its first line, before its last; during the commit: after its last line.
        const killed = await killDuring(args, box, async (output) => {
          if (kind === 'build-run') {
            await outputShows(output, `start-${token}`);
            await delay(uniform(300));
          } else {
            await outputShows(output, `end-${token}`);
            await delay(uniform(150));
          }
        });
        return { killed, token, cleanup: [i % 2 === 0 ? 'images' : 'ps'] };
      }
      case 'push': {
        const killed = await killDuring(
          ['push', tls, 'pushed', `${registry.host}/pushed-${i}:1`],
          box,
          at((typical.get('push') ?? 1000) * 1.2),
        );
        return { killed, token, cleanup: ['inspect', 'busybox'] };
      }
      case 'run': {
        const killed = await killDuring(
          ['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', `echo ${token}; sleep 0.2`],
          box,
          at((typical.get('run') ?? 1000) * 1.2),
        );
        return { killed, token, cleanup: ['run', '--rm', '--network', 'none', 'busybox', 'true'] };
      }
      case 'rm': {
        const id = ok(['run', '-d', '--network', 'none', 'busybox', 'sleep', '60'], box).trim();
        const killed = await killDuring(['rm', '-t', '0', '-f', id], box, at((typical.get('rm') ?? 1000) * 1.2));
        return { killed, token, cleanup: ['rm', '-t', '0', '-f', '--', id] };
      }
    }
  };

  /** What must hold after the next ordinary command; throws naming what does not. */
  const checkAfter = async (what: string, token: string): Promise<void> => {
    // A killed build's RUN dies with it (its 30 s sleep would outlast this wait).
    await waitFor(
      () => processesWith(token).length === 0,
      () => `${what}: the RUN survived: ${JSON.stringify(processesWith(token).map((p) => p.argv.join(' ')))}`,
      5_000,
    );
    // Containers of killed runs end by themselves; their exit commands clean up.
    await waitFor(
      () => sandboxProcesses(box).length === 0,
      () => `${what}: still running: ${JSON.stringify(sandboxProcesses(box).map((p) => p.argv.join(' ')))}`,
    );
    const check = hutch(['system', 'check'], box);
    expect(check.status, `${what}: system check: ${check.stdout}${check.stderr}`).toBe(0);
    expect(check.stdout, what).toMatch(/the store is consistent/);
    expect(check.stdout, what).not.toMatch(/leftover/);
    expect(tmpEntries(storage), `${what}: tmp/`).toEqual([]);
    // Containers that a killed run left created (never started) keep no mount either.
    expect(sessionMountsUnder(box, storage), `${what}: mounts`).toEqual([]);
    // Every directory of containers/ is a whole container: none half created or half removed.
    const containers = join(storage, 'containers');
    const partial = readdirSync(containers).filter(
      (n) => n !== '.lock' && !existsSync(join(containers, n, 'config.json')),
    );
    expect(partial, `${what}: containers/`).toEqual([]);
  };

  it('a killed build: its RUN dies with it; system check reports the workspace, --repair unmounts and removes it', async () => {
    const token = `repair${SEED}`;
    const killed = await killDuring(['build', '--network', 'none', buildContext(token, '30')], box, async (output) => {
      await outputShows(output, `start-${token}`);
    });
    expect(killed.signal).toBe('SIGKILL');
    await waitFor(
      () => processesWith(token).length === 0,
      () => `the RUN survived: ${JSON.stringify(processesWith(token).map((p) => p.argv.join(' ')))}`,
      5_000,
    );
    const [workspace] = tmpEntries(storage);
    expect(workspace).toMatch(/^build-/);
    expect(sessionMountsUnder(box, join(storage, 'tmp'))).toEqual([
      join(storage, 'tmp', workspace as string, 'merged'),
    ]);
    // system check reports (it does not reap first); --repair unmounts, then removes.
    const check = hutch(['system', 'check'], box);
    expect(check.status).toBe(125);
    expect(check.stdout).toContain(`leftover tmp/${workspace as string} of an interrupted command\n`);
    const repair = hutch(['system', 'check', '--repair'], box);
    expect(repair.status, repair.stderr).toBe(0);
    expect(repair.stdout).toContain(
      `leftover tmp/${workspace as string} of an interrupted command: unmounted tmp/${workspace as string}/merged and removed\n`,
    );
    expect(sessionMountsUnder(box, storage)).toEqual([]);
    expect(tmpEntries(storage)).toEqual([]);
  });

  it(
    `${ITERATIONS} kills of pull, build, push, run and rm leave a store that is clean and images that run`,
    async () => {
      const plan: Kind[] = [];
      for (const [kind, share] of SHARES) for (let n = 0; n < Math.round(ITERATIONS * share); n++) plan.push(kind);
      while (plan.length < ITERATIONS) plan.push('pull');
      plan.length = ITERATIONS;
      // Fisher-Yates with the seeded source: the kinds interleave.
      for (let i = plan.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [plan[i], plan[j]] = [plan[j] as Kind, plan[i] as Kind];
      }
      const started = Date.now();
      // killed/finished: whether the cut came before the command's end; left: how often it left
      // something in tmp/ or mounted for the next command to clean (else the kill tested little).
      const tally = new Map<string, { killed: number; finished: number; left: number }>();
      let done = 0;
      for (const [i, kind] of plan.entries()) {
        if (Date.now() - started > BUDGET_MS) break;
        const { killed, token, cleanup } = await inflict(kind, i);
        const what = `#${i} ${kind} (seed ${SEED}, cut after ${killed.elapsedMs} ms)`;
        const count = tally.get(kind) ?? { killed: 0, finished: 0, left: 0 };
        if (killed.signal === 'SIGKILL' || killed.signal === 'SIGINT') count.killed++;
        else {
          count.finished++;
          expect(killed.status, `${what}: ${killed.output}`).toBe(0);
        }
        if (tmpEntries(storage).length > 0 || sessionMountsUnder(box, join(storage, 'tmp')).length > 0) count.left++;
        tally.set(kind, count);
        // The next ordinary command cleans up after the dead one.
        const next = hutch(cleanup, box);
        expect(
          next.status === 0 || /no such container/.test(next.stderr),
          `${what}: ${cleanup.join(' ')}: ${next.stderr}`,
        ).toBe(true);
        await checkAfter(what, token);
        // What a killed build or pull completed is a whole image that runs.
        if (kind.startsWith('build') && hasImage(`fault-build:${i}`)) {
          expect(ok(['run', '--rm', '--network', 'none', `fault-build:${i}`, 'wc', '-c', '/data'], box)).toMatch(
            /^1000000 /,
          );
          ok(['rmi', `fault-build:${i}`], box);
        }
        if (kind === 'pull' && hasImage(big)) {
          expect(ok(['run', '--rm', '--network', 'none', big, 'wc', '-c', '/blob'], box)).toMatch(/^24000000 /);
        }
        done++;
      }
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      console.log(
        `faults: ${done} of ${ITERATIONS} iterations in ${seconds} s: ${JSON.stringify(Object.fromEntries(tally))}`,
      );
      expect(done).toBeGreaterThan(0);
      // A build cut during its RUN always leaves its mounted workspace: the cleanup was exercised.
      if ((tally.get('build-run')?.killed ?? 0) > 0) expect(tally.get('build-run')?.left).toBeGreaterThan(0);

      // At the end: every image of the store runs, and the store is still clean.
      const ids = ok(['images', '-q'], box).trim().split('\n').filter(Boolean);
      expect(ids.length).toBeGreaterThanOrEqual(1);
      for (const id of ids) ok(['run', '--rm', '--network', 'none', id, 'true'], box);
      await checkAfter('at the end', `fault${SEED}x`);
    },
    BUDGET_MS + 180_000,
  );
});
