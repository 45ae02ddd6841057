// The plan executor for real: clone a child, run steps, read its reports.
// No privileges needed: these plans create no namespace.
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SyscallError } from '../../src/errors.js';
import { native } from '../../src/native.js';
import { PlanChild } from '../../src/host/plan-child.js';
import { Plan } from '../../src/host/plan.js';

const scratch = () => mkdtempSync(join(tmpdir(), 'hutch-plan-'));

async function failureOf(plan: Plan): Promise<SyscallError> {
  const child = PlanChild.start(plan, 0);
  const error = await child.done().then(
    () => undefined,
    (e: unknown) => e,
  );
  const status = await child.wait();
  expect(status.code).toBe(125);
  expect(error).toBeInstanceOf(SyscallError);
  return error as SyscallError;
}

describe('plan child', () => {
  it('runs steps in order and exits with the exit step status', async () => {
    const dir = scratch();
    const child = PlanChild.start(
      new Plan().mkdir(join(dir, 'a'), 0o700).chdir(join(dir, 'a')).mkdir('b', 0o755).exit(7),
      0,
    );
    await child.done();
    expect(await child.wait()).toMatchObject({ code: 7, signal: null, pid: child.pid });
    // The relative mkdir ran after the chdir.
    expect(statSync(join(dir, 'a', 'b')).mode & 0o777).toBe(0o755 & ~process.umask());
  });

  it('reports the failing step as errno, system call and path', async () => {
    const error = await failureOf(new Plan().mkdir('/nonexistent/dir', 0o700));
    expect(error.code).toBe('ENOENT');
    expect(error.syscall).toBe('mkdir');
    expect(error.path).toBe('/nonexistent/dir');
    expect(error.message).toBe("ENOENT: no such file or directory, mkdir '/nonexistent/dir'");
  });

  it('reports the right step when earlier ones succeed', async () => {
    const dir = scratch();
    const error = await failureOf(new Plan().mkdir(join(dir, 'x'), 0o700).mkdir(join(dir, 'x'), 0o700));
    expect(error.code).toBe('EEXIST');
    expect(error.path).toBe(join(dir, 'x'));
  });

  it('LinkUp names the interface the kernel does not know (SIOCGIFFLAGS: ENODEV)', async () => {
    const error = await failureOf(new Plan().linkUp('hutch-none0'));
    expect(error.code).toBe('ENODEV');
    expect(error.syscall).toBe('ioctl');
    expect(error.path).toBe('hutch-none0');
    expect(() => new Plan().linkUp('a-name-too-long-for-ifnamsiz')).toThrow(TypeError);
  });

  it('ignores EEXIST only when asked', async () => {
    const dir = scratch();
    const child = PlanChild.start(new Plan().mkdir(dir, 0o700, { ignoreExists: true }).exit(0), 0);
    await child.done();
    expect((await child.wait()).code).toBe(0);
  });

  it('searches PATH like execvp and reports ENOENT when nothing matches', async () => {
    const error = await failureOf(new Plan().exec('no-such-command', ['x'], [], '/nonexistent:/also-not'));
    expect(error.code).toBe('ENOENT');
    expect(error.syscall).toBe('execve');
    expect(error.path).toBe('no-such-command');
  });

  it('prefers EACCES over ENOENT, as execvp does', async () => {
    const error = await failureOf(new Plan().exec('passwd', ['x'], [], '/nonexistent:/etc'));
    expect(error.code).toBe('EACCES');
  });

  it('reaches execve: EOF on the sync socket, then the program runs with our argv and env', async () => {
    const dir = scratch();
    const out = join(dir, 'out');
    const child = PlanChild.start(
      new Plan().exec('sh', ['sh', '-c', `echo "$0 $GREETING" > ${out}`], ['GREETING=hello'], '/usr/bin:/bin'),
      0,
    );
    await child.done();
    expect((await child.wait()).code).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe('sh hello\n');
  });

  it('holds a WaitParent step until the parent says go, and reports notify tags', async () => {
    const dir = scratch();
    const child = PlanChild.start(new Plan().notifyParent(41).waitParent().mkdir(join(dir, 'after'), 0o700).exit(0), 0);
    await child.reached(41);
    expect(() => readFileSync(join(dir, 'after'))).toThrow();
    child.go();
    await child.done();
    expect((await child.wait()).code).toBe(0);
  });

  it('starts the program with default signal dispositions (node ignores SIGPIPE)', async () => {
    const child = PlanChild.start(new Plan().exec('/bin/sh', ['sh', '-c', 'kill -PIPE $$; exit 0'], []), 0);
    await child.done();
    expect(await child.wait()).toMatchObject({ code: null, signal: 13 });
  });

  it('closes inherited fds but keeps reporting on the sync socket', async () => {
    const error = await failureOf(new Plan().closeFrom(3).mkdir('/nonexistent/x', 0o700));
    expect(error.code).toBe('ENOENT');
  });

  it('kills and reaps a child that waits for a go that never comes', async () => {
    const child = PlanChild.start(new Plan().waitParent().exit(0), 0);
    await child.abort();
    expect(await child.wait()).toMatchObject({ signal: 9 });
  });

  it('rejects malformed plans in the parent, before any clone', () => {
    expect(() => native.spawnPlan(Buffer.alloc(8), 0)).toThrow(/invalid plan: too short/);
    const good = new Plan().chdir('/').encode();
    const badOp = Buffer.from(good);
    badOp.writeUInt32LE(999, 16);
    expect(() => native.spawnPlan(badOp, 0)).toThrow(/step 0: unknown op 999/);
    const badString = Buffer.from(good);
    badString.writeUInt32LE(10_000, 16 + 32);
    expect(() => native.spawnPlan(badString, 0)).toThrow(/string offset out of bounds/);
    const missing = Buffer.from(good);
    missing.writeUInt32LE(0, 16 + 32);
    expect(() => native.spawnPlan(missing, 0)).toThrow(/string 0 is required/);
    expect(() => native.spawnPlan(good, 0x100 /* CLONE_VM */)).toThrow(/namespace clone flags/);
  });
});
