import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorLines, hutch, hutchAsync, sandbox, sessionPid, stopSession, type Sandbox } from '../helpers/hutch.js';
import { requires, subidRanges } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

function expectedMap(ownId: number, file: string): string[] {
  const lines = [`0 ${ownId} 1`];
  let next = 1;
  for (const r of subidRanges(file)) {
    lines.push(`${next} ${r.start} ${r.count}`);
    next += r.count;
  }
  return lines;
}

const normalize = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).join(' '));

describe.skipIf(need.skip)('hutch unshare', () => {
  let box: Sandbox;
  beforeAll(() => {
    box = sandbox();
  });
  afterAll(() => box.dispose());

  it('runs the command as uid 0 of the user namespace', () => {
    const result = hutch(['unshare', 'id', '-u'], box);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('0\n');
    expect(result.status).toBe(0);
  });

  it('maps the user to 0 and every subordinate range after it', () => {
    const uidMap = hutch(['unshare', 'cat', '/proc/self/uid_map'], box);
    const gidMap = hutch(['unshare', 'cat', '/proc/self/gid_map'], box);
    expect(normalize(uidMap.stdout)).toEqual(expectedMap(process.getuid?.() as number, '/etc/subuid'));
    expect(normalize(gidMap.stdout)).toEqual(expectedMap(process.getgid?.() as number, '/etc/subgid'));
  });

  it('chown inside lands on the subordinate uid outside', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hutch-chown-'));
    const file = join(dir, 'f');
    expect(hutch(['unshare', 'touch', file], box).status).toBe(0);
    const chown = hutch(['unshare', 'chown', '1000:1000', file], box);
    expect(chown.stderr).toBe('');
    const first = (r: { start: number }[]) => (r[0] as { start: number }).start;
    expect(statSync(file).uid).toBe(first(subidRanges('/etc/subuid')) + 999);
    expect(statSync(file).gid).toBe(first(subidRanges('/etc/subgid')) + 999);
    // Our own files read as root's inside, and can be removed from inside.
    expect(hutch(['unshare', 'rm', '-rf', dir], box).status).toBe(0);
  });

  it('runs every command of the user in the same namespaces (one session)', () => {
    const first = hutch(['unshare', 'readlink', '/proc/self/ns/user', '/proc/self/ns/mnt'], box).stdout;
    const second = hutch(['unshare', 'readlink', '/proc/self/ns/user', '/proc/self/ns/mnt'], box).stdout;
    expect(first).toBe(second);
    expect(first.split('\n')[0]).not.toBe(readlinkSync('/proc/self/ns/user'));
    const pid = sessionPid(box.runtime);
    expect(pid).toBeDefined();
    expect(readlinkSync(`/proc/${pid}/ns/user`)).toBe(first.split('\n')[0]);
  });

  it('mounts made in the session stay in it and outlive the command', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hutch-mnt-'));
    expect(hutch(['unshare', 'mount', '-t', 'tmpfs', 'tmpfs', dir], box).status).toBe(0);
    writeFileSync(join(dir, 'outside'), 'host');
    expect(hutch(['unshare', 'ls', dir], box).stdout).toBe('');
    expect(hutch(['unshare', 'umount', dir], box).status).toBe(0);
    expect(hutch(['unshare', 'ls', dir], box).stdout).toBe('outside\n');
    rmSync(dir, { recursive: true });
  });

  it('passes the exit status through', () => {
    expect(hutch(['unshare', 'sh', '-c', 'exit 7'], box).status).toBe(7);
  });

  it('passes signals through: the command takes hutch’s place', async () => {
    const child = hutchAsync(['unshare', 'sleep', '30'], box);
    // Wait until hutch has become sleep (same pid), then signal it.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      try {
        if (readFileSync(`/proc/${child.pid}/cmdline`, 'latin1').startsWith('sleep\0')) break;
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGINT');
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
      child.on('exit', (c, s) => resolve([c, s])),
    );
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGINT' });
    expect(
      hutch(['unshare', 'sh', '-c', 'kill -TERM $$'], box).signal,
      'a command killed by a signal is seen killed by it',
    ).toBe('SIGTERM');
  });

  it('runs $SHELL without a command', () => {
    const result = hutch(['unshare'], { env: { ...box.env, SHELL: '/bin/sh' }, input: 'id -u\nexit 3\n' });
    expect(result.stdout).toBe('0\n');
    expect(result.status).toBe(3);
  });

  it('passes options after the command to the command', () => {
    expect(hutch(['unshare', 'ls', '-d', '/'], box).stdout).toBe('/\n');
    expect(hutch(['unshare', '--', 'sh', '-c', 'echo $0', '--version'], box).stdout).toBe('--version\n');
  });

  it('exits 127 for a command that does not exist, 126 for one that cannot run', () => {
    const missing = hutch(['unshare', 'no-such-command-here'], box);
    expect(missing.status).toBe(127);
    expect(errorLines(missing.stderr)).toEqual(['Error: no-such-command-here: command not found']);
    const notExecutable = hutch(['unshare', '/etc/hostname'], box);
    expect(notExecutable.status).toBe(126);
    expect(errorLines(notExecutable.stderr)).toHaveLength(1);
  });

  it('tells the command where hutch keeps its state', () => {
    const result = hutch(['unshare', 'sh', '-c', 'echo $HUTCH_STORAGE $HUTCH_RUNTIME'], box);
    expect(result.stdout).toBe(`${box.env.XDG_DATA_HOME}/hutch ${box.runtime}\n`);
  });
});

describe.skipIf(need.skip)('the session', () => {
  it('is created once when several commands start together', async () => {
    const box = sandbox();
    try {
      const runs = Array.from({ length: 4 }, () => hutchAsync(['unshare', 'readlink', '/proc/self/ns/user'], box));
      const outputs = await Promise.all(
        runs.map(
          (child) =>
            new Promise<string>((resolve) => {
              let out = '';
              child.stdout.on('data', (d: Buffer) => (out += d.toString()));
              child.on('close', () => resolve(out));
            }),
        ),
      );
      expect(new Set(outputs).size).toBe(1);
      expect(outputs[0]).toMatch(/^user:\[\d+\]\n$/);
      const holders = execFileSync('pgrep', ['-u', String(process.getuid?.()), '-x', 'hutch-session'], {
        encoding: 'utf8',
      });
      const ours = holders
        .trim()
        .split('\n')
        .filter((pid) => readlinkSync(`/proc/${pid}/ns/user`) === outputs[0]?.trim());
      expect(ours).toHaveLength(1);
    } finally {
      box.dispose();
    }
  });

  it('is recreated when the holder is gone or the pid file names another process', () => {
    const box = sandbox();
    try {
      expect(hutch(['unshare', 'true'], box).status).toBe(0);
      const first = sessionPid(box.runtime);
      stopSession(box.runtime);
      expect(hutch(['unshare', 'true'], box).status).toBe(0);
      const second = sessionPid(box.runtime);
      expect(second).toBeDefined();
      expect(second).not.toBe(first);
      // A reused pid (here: our own process) is not taken for a holder.
      writeFileSync(join(box.runtime, 'session.pid'), `${process.pid}\n`);
      const map = hutch(['unshare', 'cat', '/proc/self/uid_map'], box);
      expect(map.stdout).toMatch(/^\s*0\s+\d+\s+1\n/);
      stopSession(box.runtime);
    } finally {
      box.dispose();
    }
  });

  it('lives in /tmp/hutch-UID when XDG_RUNTIME_DIR belongs to someone else', () => {
    const fallback = `/tmp/hutch-${process.getuid?.()}`;
    const env = { ...process.env, XDG_RUNTIME_DIR: '/', XDG_DATA_HOME: mkdtempSync(join(tmpdir(), 'hutch-d-')) };
    const before = sessionPid(fallback);
    const result = hutch(['unshare', 'readlink', '/proc/self/ns/user'], { env });
    expect(result.status).toBe(0);
    const pid = sessionPid(fallback);
    expect(pid).toBeDefined();
    expect(readlinkSync(`/proc/${pid}/ns/user`)).toBe(result.stdout.trim());
    expect(statSync(fallback).mode & 0o777).toBe(0o700);
    if (before === undefined) stopSession(fallback);
  });
});
