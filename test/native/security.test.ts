// Capabilities, no_new_privs, seccomp and credentials applied by real plan
// children. Runs as root and as an unprivileged user: the parts that need
// privileges either run in a new user namespace (single-id map, as the
// session writes it without newuidmap) or only as root.
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SyscallError } from '../../src/errors.js';
import { PlanChild } from '../../src/host/plan-child.js';
import type { Capabilities, ProcessSpec } from '../../src/run/container/spec.js';
import { Clone, Plan } from '../../src/host/plan.js';
import {
  capabilitiesUpTo,
  containerCapabilities,
  defaultCapabilities,
  ownBoundingSet,
} from '../../src/run/security/capabilities.js';
import { credentialSteps } from '../../src/run/security/process-privileges.js';
import { seccompFor } from '../../src/run/security/seccomp/default.js';
import { syscallNumber } from '../../src/run/security/seccomp/syscalls.js';
import { requires } from '../helpers/requires.js';

// Run as root by scripts/test's root pass, as the user in the user pass (test/helpers/requires.ts).
const asRoot = requires('root');
const asUser = requires('unprivileged');
const ENV = ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'LC_ALL=C'];
const own = ownBoundingSet() ?? capabilitiesUpTo(40);

const scratchDirs: string[] = [];
afterAll(() => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hutch-security-'));
  chmodSync(dir, 0o777); // writable for the other uids some tests run as
  scratchDirs.push(dir);
  return dir;
}

interface Outcome {
  code: number | null;
  signal: number | null;
  output: string;
}

/**
 * Runs a plan whose stdout and stderr go to a file, optionally in a new user
 * namespace where the parent maps only its own ids, to 0.
 */
async function runPlan(build: (plan: Plan) => void, options: { userns?: boolean } = {}): Promise<Outcome> {
  const out = join(scratch(), 'out');
  const fd = openSync(out, 'w', 0o666);
  const plan = new Plan();
  if (options.userns) plan.waitParent();
  plan.dup2(fd, 1).dup2(fd, 2);
  build(plan);
  const child = PlanChild.start(plan, options.userns ? Clone.NEWUSER : 0);
  closeSync(fd);
  try {
    if (options.userns) {
      writeFileSync(`/proc/${child.pid}/setgroups`, 'deny');
      writeFileSync(`/proc/${child.pid}/uid_map`, `0 ${process.getuid?.()} 1\n`);
      writeFileSync(`/proc/${child.pid}/gid_map`, `0 ${process.getgid?.()} 1\n`);
      child.go();
    }
    await child.done();
  } catch (error) {
    await child.wait();
    throw error;
  }
  const status = await child.wait();
  return { code: status.code, signal: status.signal, output: readFileSync(out, 'utf8') };
}

async function failureOf(build: (plan: Plan) => void, options: { userns?: boolean } = {}): Promise<SyscallError> {
  const error = await runPlan(build, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SyscallError);
  return error as SyscallError;
}

const sh = (plan: Plan, script: string) => plan.exec('/bin/sh', ['sh', '-c', script], ENV);

/** The capability lines of /proc/self/status as numbers. */
function statusOf(output: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const match of output.matchAll(/^(\w+):[ \t]*(.*)$/gm)) fields[match[1] as string] = (match[2] as string).trim();
  return fields;
}

const hex = (mask: bigint) => mask.toString(16).padStart(16, '0');

const STATUS = 'grep -E "^(Uid|Gid|Groups|Cap\\w+|NoNewPrivs|Seccomp):" /proc/self/status';

function profileFile(profile: object): string {
  const path = join(scratch(), 'profile.json');
  writeFileSync(path, JSON.stringify(profile));
  return path;
}

function processSpec(overrides: Partial<ProcessSpec> & { capabilities: Capabilities }): ProcessSpec {
  return {
    args: [],
    env: ENV,
    cwd: '/',
    uid: 0,
    gid: 0,
    additionalGids: [],
    terminal: false,
    noNewPrivileges: false,
    seccomp: undefined,
    rlimits: [],
    umask: 0o022,
    ...overrides,
  };
}

const rootCaps = (options: { capAdd?: string[] } = {}) => containerCapabilities({ uid: 0, ...options });

/** perl's syscall(): the errno of a raw system call, 0 on success. */
const perlErrno = (name: string, args: string) =>
  `perl -e '$r = syscall(${syscallNumber(name)}, ${args}); print "${name}=", ($r < 0 ? $! + 0 : 0), "\\n"'`;

// What a shell in the default profile must be able to do, and what it must not.
function defaultProfileScript(dir: string): string {
  return [
    `ls / >/dev/null && echo ls=ok`,
    `id >/dev/null && echo id=ok`,
    `cat /proc/self/status >/dev/null && echo cat=ok`,
    `mkdir ${dir}/d && chmod 700 ${dir}/d && echo mkdir=ok`,
    `unshare --user true 2>&1; echo unshare=$?`,
    `mount -t tmpfs none ${dir}/d 2>&1; echo mount=$?`,
    perlErrno('keyctl', '0, 0, 0'),
    perlErrno('add_key', '0, 0, 0, 0, 0'),
    STATUS,
  ].join('; ');
}

function expectDefaultProfile(output: string): void {
  expect(output).toContain('ls=ok');
  expect(output).toContain('id=ok');
  expect(output).toContain('cat=ok');
  expect(output).toContain('mkdir=ok');
  expect(output).toMatch(/unshare failed: Operation not permitted\nunshare=1/);
  expect(output).toMatch(/mount=[1-9]/);
  expect(output).toContain('keyctl=1\n'); // EPERM (EINVAL without the filter)
  expect(output).toContain('add_key=1\n'); // EPERM (EFAULT without the filter)
  expect(statusOf(output).Seccomp).toBe('2');
}

describe('seccomp filters', () => {
  it('refuse mkdir with EPERM from a profile, and let the rest through', async () => {
    const dir = scratch();
    const filter = seccompFor({
      profile: profileFile({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
      }),
      capabilities: rootCaps(),
    });
    const result = await runPlan((plan) =>
      sh(plan.noNewPrivs().seccomp(filter as Buffer), `mkdir ${dir}/x; echo "mkdir=$?"; true; echo "true=$?"`),
    );
    expect(result.code).toBe(0);
    expect(result.output).toMatch(/mkdir: cannot create directory .*: Operation not permitted\nmkdir=1\ntrue=0\n/);
    expect(existsSync(join(dir, 'x'))).toBe(false);
  });

  it('match argument values: only personality(0xffffffff) is refused', async () => {
    const filter = seccompFor({
      profile: profileFile({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [
          {
            names: ['personality'],
            action: 'SCMP_ACT_ERRNO',
            errnoRet: 13,
            args: [{ index: 0, value: 0xffffffff, op: 'SCMP_CMP_EQ' }],
          },
        ],
      }),
      capabilities: rootCaps(),
    });
    const result = await runPlan((plan) =>
      sh(
        plan.noNewPrivs().seccomp(filter as Buffer),
        `${perlErrno('personality', '0xffffffff')}; ${perlErrno('personality', '0')}`,
      ),
    );
    expect(result.output).toBe('personality=13\npersonality=0\n');
  });

  it('shows no_new_privs in /proc/self/status', async () => {
    const result = await runPlan((plan) => sh(plan.noNewPrivs(), STATUS));
    expect(statusOf(result.output)).toMatchObject({ NoNewPrivs: '1', Seccomp: '0' });
  });

  it('the default profile runs a shell and refuses namespaces, mounts and keyrings', async () => {
    const dir = scratch();
    const filter = seccompFor({ profile: 'default', capabilities: rootCaps() }) as Buffer;
    console.log(`default profile filter: ${filter.length / 8} instructions`);
    const result = await runPlan((plan) => sh(plan.noNewPrivs().seccomp(filter), defaultProfileScript(dir)));
    expectDefaultProfile(result.output);
    expect(result.code).toBe(0);
  });
});

describe.skipIf(asUser.skip)('capabilities as an unprivileged user, in the host namespaces', () => {
  it('can clear its (empty) capability sets', async () => {
    const result = await runPlan((plan) => sh(plan.capSet(0n, 0n, 0n).capAmbient(0n), STATUS));
    expect(statusOf(result.output)).toMatchObject({ CapEff: hex(0n), CapPrm: hex(0n), CapAmb: hex(0n) });
  });

  it('cannot shrink the bounding set or raise an ambient capability: the step reports EPERM', async () => {
    const bounding = await failureOf((plan) => sh(plan.capBounding(defaultCapabilities), 'true'));
    expect(bounding).toMatchObject({ code: 'EPERM', syscall: 'prctl' });
    const ambient = await failureOf((plan) => sh(plan.capAmbient(1n << 13n), 'true'));
    expect(ambient).toMatchObject({ code: 'EPERM', syscall: 'prctl' });
  });

  it('cannot load a filter without no_new_privs', async () => {
    const filter = seccompFor({ profile: 'default', capabilities: rootCaps() }) as Buffer;
    const error = await failureOf((plan) => sh(plan.seccomp(filter), 'true'));
    expect(error).toMatchObject({ code: 'EACCES', syscall: 'seccomp' });
  });
});

describe.skipIf(asRoot.skip)('capabilities as root, in the host namespaces', () => {
  it('gives a root container the default set and the default filter', async () => {
    const dir = scratch();
    const capabilities = rootCaps();
    const process = processSpec({
      capabilities,
      seccomp: seccompFor({ profile: 'default', capabilities }),
    });
    const result = await runPlan((plan) => {
      credentialSteps(plan, process, { setgroupsAllowed: true });
      sh(plan, defaultProfileScript(dir));
    });
    expectDefaultProfile(result.output);
    const expected = hex(defaultCapabilities & own);
    expect(statusOf(result.output)).toMatchObject({
      Uid: '0\t0\t0\t0',
      Groups: '',
      CapBnd: expected,
      CapEff: expected,
      CapPrm: expected,
      CapInh: hex(0n),
      CapAmb: hex(0n),
      NoNewPrivs: '0',
    });
  });

  it('gives a non-root user its added capabilities as ambient ones, the filter loaded before setresuid', async () => {
    const dir = scratch();
    const capabilities = containerCapabilities({ uid: 1000, capAdd: ['NET_RAW'] });
    const process = processSpec({
      uid: 1000,
      gid: 1000,
      additionalGids: [10, 50],
      capabilities,
      seccomp: seccompFor({ profile: 'default', capabilities }),
    });
    const result = await runPlan((plan) => {
      credentialSteps(plan, process, { setgroupsAllowed: true });
      sh(plan, defaultProfileScript(dir));
    });
    expectDefaultProfile(result.output);
    const netRaw = hex(1n << 13n);
    expect(statusOf(result.output)).toMatchObject({
      Uid: '1000\t1000\t1000\t1000',
      Gid: '1000\t1000\t1000\t1000',
      Groups: '10 50',
      CapBnd: hex((defaultCapabilities | (1n << 13n)) & own),
      CapEff: netRaw,
      CapPrm: netRaw,
      CapInh: netRaw,
      CapAmb: netRaw,
      NoNewPrivs: '0',
    });
  });

  it('leaves a non-root user without capabilities by default, with no_new_privs', async () => {
    const capabilities = containerCapabilities({ uid: 1000 });
    const process = processSpec({
      uid: 1000,
      gid: 1000,
      capabilities,
      noNewPrivileges: true,
      seccomp: seccompFor({ profile: 'default', capabilities }),
    });
    const result = await runPlan((plan) => {
      credentialSteps(plan, process, { setgroupsAllowed: true });
      sh(plan, STATUS);
    });
    expect(statusOf(result.output)).toMatchObject({
      Uid: '1000\t1000\t1000\t1000',
      Groups: '',
      CapEff: hex(0n),
      CapPrm: hex(0n),
      CapAmb: hex(0n),
      CapBnd: hex(defaultCapabilities & own),
      NoNewPrivs: '1',
      Seccomp: '2',
    });
  });
});

const userns = requires('userns');

describe.skipIf(userns.skip)('capabilities in a new user namespace (single-id map)', () => {
  it('gives root in the namespace the default set; the default filter refuses unshare, mount, keyctl', async () => {
    const dir = scratch();
    const capabilities = rootCaps();
    const process = processSpec({
      capabilities,
      seccomp: seccompFor({ profile: 'default', capabilities }),
    });
    const result = await runPlan(
      (plan) => {
        credentialSteps(plan, process, { setgroupsAllowed: false });
        sh(plan, defaultProfileScript(dir));
      },
      { userns: true },
    );
    expectDefaultProfile(result.output);
    const expected = hex(defaultCapabilities & own);
    expect(statusOf(result.output)).toMatchObject({
      Uid: '0\t0\t0\t0',
      CapBnd: expected,
      CapEff: expected,
      CapPrm: expected,
      CapInh: hex(0n),
      CapAmb: hex(0n),
      NoNewPrivs: '0',
    });
  });

  it('without the filter, the same namespace root may unshare (so the refusal above is seccomp’s)', async () => {
    const process = processSpec({ capabilities: rootCaps() });
    const result = await runPlan(
      (plan) => {
        credentialSteps(plan, process, { setgroupsAllowed: false });
        sh(plan, 'unshare --user true; echo unshare=$?');
      },
      { userns: true },
    );
    expect(result.output).toBe('unshare=0\n');
  });

  it('sets the inheritable and ambient sets of a non-root user’s capabilities (uid 0: the only mapped id)', async () => {
    const capabilities = containerCapabilities({ uid: 1000, capAdd: ['NET_RAW', 'SYS_CHROOT'] });
    const process = processSpec({ capabilities, seccomp: seccompFor({ profile: 'default', capabilities }) });
    const result = await runPlan(
      (plan) => {
        credentialSteps(plan, process, { setgroupsAllowed: false });
        sh(plan, STATUS);
      },
      { userns: true },
    );
    const added = hex((1n << 13n) | (1n << 18n));
    expect(statusOf(result.output)).toMatchObject({
      CapInh: added,
      CapAmb: added,
      // Root at execve: permitted = bounding (capabilities(7)).
      CapEff: hex(capabilities.bounding & own),
      CapBnd: hex(capabilities.bounding & own),
    });
  });

  it('drops the bounding set to a subset', async () => {
    const keep = (1n << 0n) | (1n << 5n); // CHOWN, KILL
    const result = await runPlan((plan) => sh(plan.capBounding(keep), STATUS), { userns: true });
    expect(statusOf(result.output).CapBnd).toBe(hex(keep));
  });

  it('reports a step that fails after the filter is loaded', async () => {
    // Only uid 0 is mapped: setresuid(1000) fails with EINVAL, under the
    // filter loaded just before it; the report still reaches the parent.
    const capabilities = containerCapabilities({ uid: 1000 });
    const process = processSpec({ uid: 1000, capabilities, seccomp: seccompFor({ profile: 'default', capabilities }) });
    const error = await failureOf(
      (plan) => {
        credentialSteps(plan, process, { setgroupsAllowed: false });
        sh(plan, 'true');
      },
      { userns: true },
    );
    expect(error).toMatchObject({ code: 'EINVAL', syscall: 'setresuid' });
  });
});
