/**
 * Many container lifetimes in a row (HUTCH_RUN_CYCLES, default 20) must leave nothing behind: no mounts in
 * the session, no monitors or container processes, no files in the store.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { hutchBin, requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');
/** 20 by default (CI); HUTCH_RUN_CYCLES=200 for the long soak. */
const CYCLES = Number(process.env.HUTCH_RUN_CYCLES ?? 20);

/** Processes of ours whose command line mentions this sandbox (monitors, cleanups, containers). */
function leftovers(box: Sandbox): string[] {
  const out = spawnSync('pgrep', ['-a', '-u', String(process.getuid?.()), '-f', 'hutch-monitor|container cleanup'], {
    encoding: 'utf8',
  }).stdout;
  // A cleanup's command line names only the container: tell ours by the runtime directory in its environment.
  const runtimeDir = `XDG_RUNTIME_DIR=${box.env.XDG_RUNTIME_DIR}`;
  const ours = (pid: string) => {
    try {
      return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(runtimeDir);
    } catch {
      return false;
    }
  };
  return out
    .split('\n')
    .filter(Boolean)
    .filter((l) => l.includes(box.runtime) || ours(l.split(' ')[0] as string));
}

async function settled(box: Sandbox): Promise<string[]> {
  // The monitors' exit commands may still be finishing the last containers.
  for (let i = 0; i < 100 && leftovers(box).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  return leftovers(box);
}

function containerMounts(box: Sandbox): string[] {
  return ok(['unshare', 'cat', '/proc/self/mountinfo'], box)
    .split('\n')
    .filter((l) => l.includes(join('hutch', 'containers')));
}

describe.skipIf(need.skip)(`${CYCLES} container lifetimes`, () => {
  let box: Sandbox;
  beforeAll(async () => {
    box = sandbox();
    ok(['import', await busyboxRootfsTar(), 'busybox'], box);
  });
  afterAll(() => box.dispose());

  const storeContainers = () =>
    readdirSync(join(box.env.XDG_DATA_HOME as string, 'hutch', 'containers')).filter((n) => !n.startsWith('.'));

  it(`run --rm busybox true, ${CYCLES} times`, async () => {
    const loop = `for i in $(seq ${CYCLES}); do "$0" run --rm busybox true || exit $?; done`;
    const result = spawnSync('sh', ['-c', loop, hutchBin], { env: box.env, encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    expect(await settled(box)).toEqual([]);
    expect(ok(['ps', '-a', '-q'], box)).toBe('');
    expect(storeContainers()).toEqual([]);
    expect(containerMounts(box)).toEqual([]);
  }, 600_000);

  it(`run -d, exec, stop, rm, ${CYCLES} times`, async () => {
    const loop = [
      `for i in $(seq ${CYCLES}); do`,
      `  id=$("$0" run -d busybox sh -c 'trap "exit 0" TERM; while true; do sleep 0.1; done') || exit 1`,
      `  "$0" exec "$id" true || exit 2`,
      `  "$0" stop -t 5 "$id" > /dev/null || exit 3`,
      `  "$0" rm "$id" > /dev/null || exit 4`,
      'done',
    ].join('\n');
    const result = spawnSync('sh', ['-c', loop, hutchBin], { env: box.env, encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    expect(await settled(box)).toEqual([]);
    expect(ok(['ps', '-a', '-q'], box)).toBe('');
    expect(storeContainers()).toEqual([]);
    expect(containerMounts(box)).toEqual([]);
    const holder = execFileSync('pgrep', ['-u', String(process.getuid?.()), '-x', 'hutch-session'], {
      encoding: 'utf8',
    });
    expect(holder.trim().length).toBeGreaterThan(0);
  }, 900_000);
});
