import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// openSync goes to the real one; armed, it first removes a new directory of the prefix given, as a
// reaper that claimed it between its mkdtemp and our open would.
const reapBeforeOpen = { count: 0, prefix: '', reaped: [] as string[] };
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  return {
    ...real,
    openSync: (...args: Parameters<typeof real.openSync>) => {
      const path = args[0];
      if (reapBeforeOpen.count > 0 && typeof path === 'string' && path.startsWith(reapBeforeOpen.prefix)) {
        reapBeforeOpen.count--;
        reapBeforeOpen.reaped.push(path);
        real.rmSync(path, { recursive: true });
      }
      return real.openSync(...args);
    },
  };
});

const { HutchError } = await import('../../src/errors.js');
const { acquireLock, claimIfAbandoned, createTempDir, createTempFile, tryLock } = await import('../../src/fs/lock.js');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hutch-lock-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('acquireLock', () => {
  it('creates the lock file and excludes a second exclusive holder until released', async () => {
    const path = join(dir, 'a.lock');
    const release = await acquireLock(path);
    expect(existsSync(path)).toBe(true);
    let second = false;
    const waiting = acquireLock(path).then((r) => {
      second = true;
      return r;
    });
    await tick(50);
    expect(second).toBe(false);
    release();
    const releaseSecond = await waiting;
    expect(second).toBe(true);
    releaseSecond();
  });

  it('lets shared holders in together and keeps an exclusive one out until all leave', async () => {
    const path = join(dir, 'b.lock');
    const a = await acquireLock(path, { shared: true });
    const b = await acquireLock(path, { shared: true });
    expect(tryLock(path)).toBeUndefined();
    a();
    expect(tryLock(path)).toBeUndefined();
    b();
    const c = tryLock(path);
    expect(c).toBeDefined();
    c?.();
  });

  it('gives up after timeoutMs with a message naming the lock', async () => {
    const path = join(dir, 'c.lock');
    const release = await acquireLock(path);
    const error = await acquireLock(path, { timeoutMs: 60 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HutchError);
    expect((error as Error).message).toBe(`timed out waiting for the lock ${path}`);
    release();
  });

  it('release is idempotent', async () => {
    const release = await acquireLock(join(dir, 'd.lock'));
    release();
    expect(() => release()).not.toThrow();
  });

  it('waits for another process without blocking the event loop', async () => {
    const path = join(dir, 'e.lock');
    // flock(1) holds the lock for 400 ms in another process.
    const holder = spawn('flock', ['-o', '-x', path, 'sleep', '0.4'], { stdio: 'ignore' });
    await tick(100);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const started = Date.now();
    const release = await acquireLock(path);
    clearInterval(timer);
    const waited = Date.now() - started;
    release();
    expect(waited).toBeGreaterThan(150);
    // The loop kept turning while we waited.
    expect(ticks).toBeGreaterThan(5);
    if (holder.exitCode === null) await new Promise((resolve) => holder.once('exit', resolve));
  });
});

describe('temp entries', () => {
  it('a temp file is held by its creator and abandoned once released', () => {
    const temp = createTempFile(dir, 'blob-');
    expect(temp.path.startsWith(join(dir, 'blob-'))).toBe(true);
    expect(claimIfAbandoned(temp.path)).toBeUndefined();
    temp.release();
    const claim = claimIfAbandoned(temp.path);
    expect(claim).toBeDefined();
    claim?.();
  });

  it('a temp dir is held by its creator and abandoned once released', () => {
    const temp = createTempDir(dir, 'layer-');
    expect(claimIfAbandoned(temp.path)).toBeUndefined();
    temp.release();
    const claim = claimIfAbandoned(temp.path);
    expect(claim).toBeDefined();
    claim?.();
  });

  it('a temp dir is made again under a new name when a reaper removed it before it was opened', () => {
    // Another command's reaper (a build's, the store's) takes a new, not yet flocked directory
    // for a leftover: here it wins the race twice, between mkdtemp and open.
    reapBeforeOpen.count = 2;
    reapBeforeOpen.prefix = join(dir, 'step-');
    const temp = createTempDir(dir, 'step-');
    expect(reapBeforeOpen.count).toBe(0);
    expect(reapBeforeOpen.reaped).toHaveLength(2);
    expect(reapBeforeOpen.reaped).not.toContain(temp.path);
    expect(existsSync(temp.path)).toBe(true);
    expect(claimIfAbandoned(temp.path)).toBeUndefined();
    temp.release();
  });

  it('a vanished entry is not claimed', () => {
    expect(claimIfAbandoned(join(dir, 'nothing'))).toBeUndefined();
  });

  it('a temp entry held by a process that was killed is abandoned', async () => {
    const path = join(dir, 'held');
    const holder = spawn('flock', ['-o', '-x', path, 'sleep', '30'], { stdio: 'ignore' });
    await tick(150);
    expect(claimIfAbandoned(path)).toBeUndefined();
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
    // flock -o keeps the lock in flock(1) itself, not in the sleep it runs.
    const claim = claimIfAbandoned(path);
    expect(claim).toBeDefined();
    claim?.();
  }, 10_000);
});
