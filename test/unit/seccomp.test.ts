import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HutchError } from '../../src/errors.js';
import { containerCapabilities } from '../../src/run/security/capabilities.js';
import {
  type ArgCondition,
  type ArgOp,
  type FilterSpec,
  Action,
  actionValue,
  AuditArch,
  compileFilter,
  MAX_INSTRUCTIONS,
} from '../../src/run/security/seccomp/bpf.js';
import { alwaysRefused, defaultProfile, seccompFor } from '../../src/run/security/seccomp/default.js';
import { checkProfile, parseProfile, resolveProfile } from '../../src/run/security/seccomp/profile.js';
import {
  hostArch,
  type SeccompArch,
  syscallName,
  syscallNumber,
  tableHeaders,
} from '../../src/run/security/seccomp/syscalls.js';
import { requires, unmet } from '../helpers/requires.js';

const headers = requires('kernelHeaders');

// A classic BPF interpreter for seccomp filters: what the kernel checks on
// load (seccomp_check_filter, bpf_check_classic) and what it runs per call.

interface SeccompData {
  nr: number;
  arch?: number;
  args?: bigint[];
}

const SECCOMP_DATA_SIZE = 64;

function instructions(program: Buffer): { code: number; jt: number; jf: number; k: number }[] {
  expect(program.length % 8).toBe(0);
  const list = [];
  for (let at = 0; at < program.length; at += 8) {
    list.push({
      code: program.readUInt16LE(at),
      jt: program.readUInt8(at + 2),
      jf: program.readUInt8(at + 3),
      k: program.readUInt32LE(at + 4),
    });
  }
  return list;
}

/** The load-time checks: known opcodes, aligned loads inside seccomp_data, jumps inside the program. */
function verify(program: Buffer): void {
  const list = instructions(program);
  expect(list.length).toBeGreaterThan(0);
  expect(list.length).toBeLessThanOrEqual(MAX_INSTRUCTIONS);
  list.forEach((insn, pc) => {
    const after = pc + 1;
    switch (insn.code) {
      case 0x20: // ld [k]
        expect(insn.k % 4).toBe(0);
        expect(insn.k + 4).toBeLessThanOrEqual(SECCOMP_DATA_SIZE);
        break;
      case 0x54: // and #k
      case 0x06: // ret #k
        break;
      case 0x05: // ja
        expect(after + insn.k).toBeLessThan(list.length);
        break;
      case 0x15: // jeq, jgt, jge, jset
      case 0x25:
      case 0x35:
      case 0x45:
        expect(after + insn.jt).toBeLessThan(list.length);
        expect(after + insn.jf).toBeLessThan(list.length);
        break;
      default:
        throw new Error(`opcode 0x${insn.code.toString(16)} at ${pc}`);
    }
  });
  expect(list.at(-1)?.code).toBe(0x06);
}

function run(program: Buffer, data: SeccompData): number {
  const memory = Buffer.alloc(SECCOMP_DATA_SIZE);
  memory.writeUInt32LE(data.nr >>> 0, 0);
  memory.writeUInt32LE((data.arch ?? AuditArch.x86_64) >>> 0, 4);
  (data.args ?? []).forEach((arg, i) => memory.writeBigUInt64LE(BigInt.asUintN(64, arg), 16 + 8 * i));
  const list = instructions(program);
  let a = 0;
  let pc = 0;
  for (let steps = 0; steps < 100_000; steps++) {
    const insn = list[pc];
    if (insn === undefined) throw new Error(`fell off the program at ${pc}`);
    const jump = (taken: boolean) => {
      pc += 1 + (taken ? insn.jt : insn.jf);
    };
    switch (insn.code) {
      case 0x20:
        a = memory.readUInt32LE(insn.k);
        pc++;
        break;
      case 0x54:
        a = (a & insn.k) >>> 0;
        pc++;
        break;
      case 0x05:
        pc += 1 + insn.k;
        break;
      case 0x15:
        jump(a === insn.k);
        break;
      case 0x25:
        jump(a > insn.k);
        break;
      case 0x35:
        jump(a >= insn.k);
        break;
      case 0x45:
        jump((a & insn.k) !== 0);
        break;
      case 0x06:
        return insn.k;
      default:
        throw new Error(`opcode 0x${insn.code.toString(16)}`);
    }
  }
  throw new Error('no return');
}

const ALLOW = actionValue(Action.allow);
const EPERM = actionValue(Action.errno(1));
const ENOSYS = actionValue(Action.errno(38));
const KILL_PROCESS = actionValue(Action.killProcess);
const AUDIT_ARCH_I386 = 0x40000003;
const X32 = 0x40000000;

const nrOf = (name: string, arch: SeccompArch = 'x86_64'): number => {
  const nr = syscallNumber(name, arch);
  if (nr === undefined) throw new Error(`no ${name} on ${arch}`);
  return nr;
};

const compiled = (spec: Partial<FilterSpec>) =>
  compileFilter({ arch: 'x86_64', defaultAction: Action.allow, rules: [], ...spec });

describe('system call tables', () => {
  it('know the numbers of both architectures', () => {
    expect(syscallNumber('read', 'x86_64')).toBe(0);
    expect(syscallNumber('mkdir', 'x86_64')).toBe(83);
    expect(syscallNumber('personality', 'x86_64')).toBe(135);
    expect(syscallNumber('keyctl', 'x86_64')).toBe(250);
    expect(syscallNumber('openat', 'aarch64')).toBe(56);
    expect(syscallNumber('personality', 'aarch64')).toBe(92);
    expect(syscallNumber('newfstatat', 'aarch64')).toBe(79);
    expect(syscallNumber('clone3', 'aarch64')).toBe(435);
    expect(syscallNumber('mkdir', 'aarch64')).toBeUndefined(); // only mkdirat there
    expect(syscallNumber('syscalls', 'aarch64')).toBeUndefined();
    expect(syscallName(59, 'x86_64')).toBe('execve');
    expect(hostArch('x64')).toBe('x86_64');
    expect(hostArch('arm64')).toBe('aarch64');
    expect(() => hostArch('riscv64')).toThrow(HutchError);
  });

  it.skipIf(headers.skip)('are what scripts/gen-syscalls.mjs makes of the installed headers', (context) => {
    const text = readFileSync('/usr/include/linux/version.h', 'utf8');
    const installed = `${/LINUX_VERSION_MAJOR (\d+)/.exec(text)?.[1]}.${/LINUX_VERSION_PATCHLEVEL (\d+)/.exec(text)?.[1]}`;
    if (installed !== tableHeaders.x86_64) {
      return unmet(context, `the headers are Linux ${installed}, the tables ${tableHeaders.x86_64}: regenerate them`);
    }
    const script = new URL('../../scripts/gen-syscalls.mjs', import.meta.url).pathname;
    const result = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
    if (result.status === 2) return unmet(context, result.stderr.trim());
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});

describe('BPF compilation', () => {
  it('checks the architecture and refuses x32 on x86_64', () => {
    const program = compiled({ defaultAction: Action.errno(1), rules: [{ nr: 0, action: Action.allow, args: [] }] });
    verify(program);
    expect(run(program, { nr: 0 })).toBe(ALLOW);
    expect(run(program, { nr: 1 })).toBe(EPERM);
    expect(run(program, { nr: 0, arch: AUDIT_ARCH_I386 })).toBe(EPERM); // the default action
    expect(run(program, { nr: 0, arch: AuditArch.aarch64 })).toBe(EPERM);
    expect(run(program, { nr: X32 })).toBe(ENOSYS);
    expect(run(program, { nr: X32 + 1 })).toBe(ENOSYS);
    expect(run(program, { nr: 0xffffffff })).toBe(ENOSYS);
  });

  it('kills a foreign architecture when the default lets calls through', () => {
    const program = compiled({ rules: [{ nr: 83, action: Action.errno(1), args: [] }] });
    expect(run(program, { nr: 83 })).toBe(EPERM);
    expect(run(program, { nr: 39 })).toBe(ALLOW);
    expect(run(program, { nr: 39, arch: AUDIT_ARCH_I386 })).toBe(KILL_PROCESS);
    expect(run(program, { nr: X32 + 83 })).toBe(ENOSYS);
  });

  it('compiles every action', () => {
    const actions = [
      Action.allow,
      Action.errno(13),
      Action.killProcess,
      Action.killThread,
      Action.trap,
      Action.log,
      Action.trace(7),
    ];
    const program = compiled({
      defaultAction: Action.errno(1),
      rules: actions.map((action, nr) => ({ nr: nr * 3, action, args: [] })),
    });
    verify(program);
    expect(actions.map((_, nr) => run(program, { nr: nr * 3 }).toString(16))).toEqual([
      '7fff0000',
      '5000d',
      '80000000',
      '0',
      '30000',
      '7ffc0000',
      '7ff00007',
    ]);
    expect(run(program, { nr: 1 })).toBe(EPERM);
    expect(() => actionValue(Action.errno(5000))).toThrow(RangeError);
  });

  it('does aarch64 with its own architecture and no x32 range', () => {
    const program = compileFilter({
      arch: 'aarch64',
      defaultAction: Action.errno(1),
      rules: [{ nr: nrOf('openat', 'aarch64'), action: Action.allow, args: [] }],
    });
    expect(run(program, { nr: 56, arch: AuditArch.aarch64 })).toBe(ALLOW);
    expect(run(program, { nr: 56, arch: AuditArch.x86_64 })).toBe(EPERM);
    expect(run(program, { nr: X32 + 56, arch: AuditArch.aarch64 })).toBe(EPERM);
  });

  it('gives ENOSYS above the highest call the profile knows', () => {
    const program = compiled({
      defaultAction: Action.errno(1),
      unknownAbove: 450,
      rules: [{ nr: 0, action: Action.allow, args: [] }],
    });
    expect(run(program, { nr: 450 })).toBe(EPERM);
    expect(run(program, { nr: 451 })).toBe(ENOSYS);
    expect(run(program, { nr: 0x3fffffff })).toBe(ENOSYS);
  });

  // Every operator against a reference in BigInt, on values around both 32-bit halves.
  const values = [
    0n,
    1n,
    5n,
    0x7fffffffn,
    0xfffffffen,
    0xffffffffn,
    0x100000000n,
    0x100000005n,
    0x1fffffffen,
    0x500000005n,
    0xffffffff00000000n,
    0xfffffffffffffffen,
    0xffffffffffffffffn,
  ];
  const reference: Record<ArgOp, (arg: bigint, value: bigint, two: bigint) => boolean> = {
    eq: (x, v) => x === v,
    ne: (x, v) => x !== v,
    lt: (x, v) => x < v,
    le: (x, v) => x <= v,
    gt: (x, v) => x > v,
    ge: (x, v) => x >= v,
    'masked-eq': (x, v, two) => (x & v) === two,
  };
  for (const op of Object.keys(reference) as ArgOp[]) {
    it(`compares 64-bit arguments with ${op} in both halves`, () => {
      for (const value of values) {
        const valueTwo = op === 'masked-eq' ? value & 0xf0000000fn : undefined;
        const cond: ArgCondition = { index: 3, op, value, ...(valueTwo === undefined ? {} : { valueTwo }) };
        const program = compiled({ rules: [{ nr: 135, action: Action.errno(7), args: [cond] }] });
        verify(program);
        for (const arg of values) {
          const expected = reference[op](arg, value, valueTwo ?? 0n);
          const args = [0n, 0n, 0n, arg, 0n, 0n];
          expect(run(program, { nr: 135, args }), `${arg} ${op} ${value}`).toBe(
            expected ? actionValue(Action.errno(7)) : ALLOW,
          );
        }
        expect(run(program, { nr: 134, args: [0n, 0n, 0n, value] })).toBe(ALLOW);
      }
    });
  }

  it('ANDs the conditions of a rule, tries rules in order, then the unconditional one', () => {
    const program = compiled({
      defaultAction: Action.errno(1),
      rules: [
        { nr: 10, action: Action.errno(38), args: [] },
        {
          nr: 10,
          action: Action.allow,
          args: [
            { index: 0, op: 'eq', value: 1n },
            { index: 1, op: 'masked-eq', value: 0xff00n, valueTwo: 0x1200n },
          ],
        },
        { nr: 10, action: Action.errno(13), args: [{ index: 0, op: 'eq', value: 1n }] },
        { nr: 10, action: Action.errno(22), args: [{ index: 5, op: 'gt', value: 1n << 40n }] },
      ],
    });
    verify(program);
    expect(run(program, { nr: 10, args: [1n, 0x12ffn] })).toBe(ALLOW);
    expect(run(program, { nr: 10, args: [1n, 0x13ffn] })).toBe(actionValue(Action.errno(13)));
    expect(run(program, { nr: 10, args: [2n, 0, 0, 0, 0, (1n << 40n) + 1n].map(BigInt) })).toBe(
      actionValue(Action.errno(22)),
    );
    expect(run(program, { nr: 10, args: [2n] })).toBe(ENOSYS);
    expect(run(program, { nr: 11 })).toBe(EPERM);
  });

  it('keeps jumps within 255 instructions with trampolines', () => {
    // One call with many conditional rules puts far more than 255 instructions
    // between the search's jumps and their targets.
    const rules = Array.from({ length: 120 }, (_, i) => ({
      nr: 200,
      action: Action.errno(i + 1),
      args: [{ index: 0, op: 'eq' as const, value: BigInt(i) << 32n }],
    }));
    const many = Array.from({ length: 300 }, (_, i) => ({ nr: i * 2 + 1, action: Action.allow, args: [] }));
    const program = compiled({ defaultAction: Action.errno(1), rules: [...many, ...rules] });
    verify(program);
    expect(program.length / 8).toBeGreaterThan(600);
    expect(instructions(program).filter((i) => i.code === 0x05).length).toBeGreaterThan(0); // trampolines
    expect(run(program, { nr: 200, args: [119n << 32n] })).toBe(actionValue(Action.errno(120)));
    expect(run(program, { nr: 200, args: [0n] })).toBe(actionValue(Action.errno(1)));
    expect(run(program, { nr: 200, args: [5n] })).toBe(EPERM);
    expect(run(program, { nr: 599 })).toBe(ALLOW);
    expect(run(program, { nr: 598 })).toBe(EPERM);
    expect(run(program, { nr: 1 })).toBe(ALLOW);
  });

  it('refuses a program longer than the kernel takes', () => {
    const rules = Array.from({ length: 900 }, (_, i) => ({
      nr: 3,
      action: Action.errno(2),
      args: [{ index: 0, op: 'eq' as const, value: BigInt(i) }],
    }));
    expect(() => compiled({ rules })).toThrow(/seccomp filter too long: \d+ instructions, the kernel accepts 4096/);
  });
});

describe('profiles', () => {
  // docker's own format (moby profiles/seccomp/default.json), in small.
  const dockerShaped = {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    archMap: [
      { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
      { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
    ],
    syscalls: [
      { names: ['read', 'write', 'exit_group', 'no_such_call', 'chown32'], action: 'SCMP_ACT_ALLOW', args: [] },
      { names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8' } },
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }] },
      { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64', 'x32'] } },
      { names: ['mount', 'clone'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
      {
        names: ['clone'],
        action: 'SCMP_ACT_ALLOW',
        args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
        excludes: { caps: ['CAP_SYS_ADMIN'], arches: ['s390', 's390x'] },
      },
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, excludes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['future_call'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '99.0' } },
      { name: 'kill', action: 'SCMP_ACT_KILL_PROCESS', comment: 'the single name of older profiles' },
    ],
  };
  const root = containerCapabilities({ uid: 0, lastCap: 40, available: (1n << 41n) - 1n });
  const admin = containerCapabilities({ uid: 0, capAdd: ['SYS_ADMIN'], lastCap: 40, available: (1n << 41n) - 1n });
  const filter = (caps = root, arch: SeccompArch = 'x86_64', kernel = '6.1.0') =>
    compileFilter(resolveProfile(checkProfile(dockerShaped, 'p.json'), { arch, capabilities: caps, kernel }, 'p.json'));

  it('resolve docker’s format with includes and excludes', () => {
    const program = filter();
    verify(program);
    const x = (name: string, args: bigint[] = []) => run(program, { nr: nrOf(name), args });
    expect(x('read')).toBe(ALLOW);
    expect(x('ptrace')).toBe(ALLOW);
    expect(x('arch_prctl')).toBe(ALLOW);
    expect(x('personality', [0n])).toBe(ALLOW);
    expect(x('personality', [0x40000n])).toBe(EPERM);
    expect(x('mount')).toBe(EPERM);
    expect(x('clone', [0x11n])).toBe(ALLOW);
    expect(x('clone', [0x10000000n /* CLONE_NEWUSER */])).toBe(EPERM);
    expect(x('clone3')).toBe(ENOSYS);
    expect(x('kill')).toBe(KILL_PROCESS);
    expect(x('openat')).toBe(EPERM);
    expect(run(program, { nr: 1000 })).toBe(ENOSYS); // above what the profile names
  });

  it('apply the capability-dependent entries when the capability is there', () => {
    const program = filter(admin);
    expect(run(program, { nr: nrOf('mount') })).toBe(ALLOW);
    expect(run(program, { nr: nrOf('clone'), args: [0x10000000n] })).toBe(ALLOW);
    expect(run(program, { nr: nrOf('clone3') })).toBe(EPERM);
  });

  it('apply minKernel and the architecture', () => {
    expect(run(filter(root, 'x86_64', '4.4.0'), { nr: nrOf('ptrace') })).toBe(EPERM);
    const arm = filter(root, 'aarch64');
    const a = (name: string) => run(arm, { nr: nrOf(name, 'aarch64'), arch: AuditArch.aarch64 });
    expect(a('read')).toBe(ALLOW);
    expect(syscallNumber('arch_prctl', 'aarch64')).toBeUndefined();
    expect(a('ptrace')).toBe(ALLOW);
  });

  function problem(profile: unknown): string {
    try {
      checkProfile(profile, 'p.json');
    } catch (error) {
      expect(error).toBeInstanceOf(HutchError);
      expect((error as HutchError).exitCode).toBe(125);
      return (error as HutchError).message;
    }
    throw new Error('expected the profile to be refused');
  }

  it('refuse malformed profiles naming the file and the JSON path', () => {
    const syscalls = dockerShaped.syscalls;
    expect(problem({ ...dockerShaped, syscalls: [...syscalls, { names: ['read'], action: 'SCMP_ACT_FOO' }] })).toBe(
      'seccomp profile p.json: syscalls[9].action: unknown action "SCMP_ACT_FOO"',
    );
    expect(problem({ defaultAction: 'SCMP_ACT_NOPE' })).toBe(
      'seccomp profile p.json: defaultAction: unknown action "SCMP_ACT_NOPE"',
    );
    expect(problem({ syscalls: [] })).toMatch(/^seccomp profile p.json: defaultAction: expected a string, got/);
    expect(
      problem({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] }],
      }),
    ).toBe('seccomp profile p.json: syscalls[0].args[0].index: expected an argument index from 0 to 5, got number 6');
    expect(
      problem({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_XX' }] }],
      }),
    ).toBe('seccomp profile p.json: syscalls[0].args[0].op: unknown operator "SCMP_CMP_XX"');
    expect(
      problem({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [
          { names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 2 ** 60, op: 'SCMP_CMP_EQ' }] },
        ],
      }),
    ).toMatch(/^seccomp profile p.json: syscalls\[0\].args\[0\].value: .* write values above 2\^53 as strings/);
    expect(problem({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: 'read', action: 'SCMP_ACT_ERRNO' }] })).toBe(
      'seccomp profile p.json: syscalls[0].names: expected an array of strings, got string "read"',
    );
    expect(problem({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [], action: 'SCMP_ACT_ERRNO' }] })).toBe(
      'seccomp profile p.json: syscalls[0]: names is missing or empty',
    );
    expect(problem({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_Z80'] })).toBe(
      'seccomp profile p.json: architectures[0]: unknown architecture "SCMP_ARCH_Z80"',
    );
    expect(
      problem({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['a'], action: 'SCMP_ACT_NOTIFY' }] }),
    ).toMatch(/syscalls\[0\].action: SCMP_ACT_NOTIFY is not supported/);
    expect(problem({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: -1 })).toMatch(
      /^seccomp profile p.json: defaultErrnoRet:/,
    );
    expect(
      problem({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', includes: { minKernel: 'new' } }],
      }),
    ).toBe('seccomp profile p.json: syscalls[0].includes.minKernel: expected "major.minor", got "new"');
    expect(() => parseProfile('{"defaultAction": ', 'p.json')).toThrow(/^seccomp profile p.json: not valid JSON/);
  });

  it('refuse two unconditional actions for one call, naming both entries', () => {
    const profile = parseProfile(
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [
          { names: ['read', 'write'], action: 'SCMP_ACT_ERRNO' },
          { names: ['getpid', 'write'], action: 'SCMP_ACT_KILL_PROCESS' },
          { names: ['read'], action: 'SCMP_ACT_ERRNO' },
        ],
      }),
      'p.json',
    );
    expect(() => resolveProfile(profile, { arch: 'x86_64', capabilities: root }, 'p.json')).toThrow(
      'seccomp profile p.json: syscalls[1].names[1]: "write" already has another action in syscalls[0] ("SCMP_ACT_KILL_PROCESS" here)',
    );
  });

  it('take big values as strings and TRACE data from errnoRet', () => {
    const profile = parseProfile(
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [
          {
            names: ['personality'],
            action: 'SCMP_ACT_ERRNO',
            errnoRet: 22,
            args: [{ index: 0, value: '0xffffffffffffffff', op: 'SCMP_CMP_EQ' }],
          },
          { names: ['getpid'], action: 'SCMP_ACT_TRACE', errnoRet: 9 },
        ],
      }),
      'p.json',
    );
    const program = compileFilter(resolveProfile(profile, { arch: 'x86_64', capabilities: root }, 'p.json'));
    expect(run(program, { nr: 135, args: [(1n << 64n) - 1n] })).toBe(actionValue(Action.errno(22)));
    expect(run(program, { nr: 135, args: [0xffffffffn] })).toBe(ALLOW);
    expect(run(program, { nr: nrOf('getpid') })).toBe(actionValue(Action.trace(9)));
    expect(run(program, { nr: 5000 })).toBe(ALLOW); // no ENOSYS range under an allowing default
  });

  it('read a file and report a missing one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hutch-seccomp-'));
    const path = join(dir, 'deny-mkdir.json');
    writeFileSync(
      path,
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }],
      }),
    );
    const program = seccompFor({ profile: path, capabilities: root, arch: 'x86_64' });
    expect(program).toBeInstanceOf(Buffer);
    expect(run(program as Buffer, { nr: 83 })).toBe(EPERM);
    expect(seccompFor({ profile: 'unconfined', capabilities: root })).toBeUndefined();
    expect(() => seccompFor({ profile: join(dir, 'missing.json'), capabilities: root })).toThrow(
      /^seccomp profile .*missing.json: ENOENT/,
    );
    rmSync(dir, { recursive: true });
  });
});

describe('the default profile', () => {
  const all = (1n << 41n) - 1n;
  const caps = (options: { uid?: number; capAdd?: string[]; capDrop?: string[] } = {}) =>
    containerCapabilities({ uid: 0, lastCap: 40, available: all, ...options });
  const program = (capabilities = caps(), arch: SeccompArch = 'x86_64') => {
    const compiled = seccompFor({ profile: 'default', capabilities, arch, kernel: '6.18.0' }) as Buffer;
    verify(compiled);
    return compiled;
  };
  const call = (filter: Buffer, name: string, args: bigint[] = [], arch: SeccompArch = 'x86_64') =>
    run(filter, { nr: nrOf(name, arch), arch: AuditArch[arch], args });

  it('is small', () => {
    const names = new Set(defaultProfile.syscalls?.flatMap((s) => s.names ?? []));
    const lengths = {
      x86_64: program().length / 8,
      aarch64: program(caps(), 'aarch64').length / 8,
      x86_64_all: program(caps({ capAdd: ['ALL'] })).length / 8,
    };
    console.log(`default profile: ${names.size} names; filter length ${JSON.stringify(lengths)} instructions`);
    expect(lengths.x86_64).toBeLessThan(400);
  });

  it('lets ordinary programs run', () => {
    const filter = program();
    for (const name of ['read', 'write', 'openat', 'close', 'execve', 'mmap', 'mkdir', 'chmod', 'statx', 'wait4']) {
      expect(call(filter, name), name).toBe(ALLOW);
    }
    expect(call(filter, 'clone', [0x01200011n])).toBe(ALLOW); // fork: SIGCHLD | CLONE_CHILD_*
    expect(call(filter, 'socket', [2n])).toBe(ALLOW);
    expect(call(filter, 'personality', [0xffffffffn])).toBe(ALLOW);
    expect(call(filter, 'chroot')).toBe(ALLOW); // CAP_SYS_CHROOT is a default capability
  });

  it('refuses what needs CAP_SYS_ADMIN without it, and allows it with it', () => {
    const filter = program();
    for (const name of ['mount', 'umount2', 'unshare', 'setns', 'pivot_root', 'sethostname', 'bpf']) {
      expect(call(filter, name), name).toBe(EPERM);
    }
    expect(call(filter, 'clone', [0x10000000n])).toBe(EPERM); // CLONE_NEWUSER
    expect(call(filter, 'clone3')).toBe(ENOSYS);
    const admin = program(caps({ capAdd: ['SYS_ADMIN'] }));
    for (const name of ['mount', 'unshare', 'setns', 'clone3']) expect(call(admin, name), name).toBe(ALLOW);
    expect(call(admin, 'clone', [0x10000000n])).toBe(ALLOW);
  });

  it('follows the bounding set, not only the effective one', () => {
    const user = caps({ uid: 1000 });
    expect(user.effective).toBe(0n);
    expect(call(program(user), 'chroot')).toBe(ALLOW);
    expect(call(program(caps({ capDrop: ['SYS_CHROOT'] })), 'chroot')).toBe(EPERM);
  });

  it('refuses keyrings, kexec, io_uring and personas that switch ASLR off, whatever the capabilities', () => {
    const filter = program(caps({ capAdd: ['ALL'] }));
    for (const name of alwaysRefused) {
      const nr = syscallNumber(name, 'x86_64');
      if (nr !== undefined) expect(run(filter, { nr }), name).toBe(EPERM);
    }
    expect(call(program(), 'keyctl')).toBe(EPERM);
    expect(call(program(), 'add_key')).toBe(EPERM);
    expect(call(filter, 'personality', [0x0040000n])).toBe(EPERM); // ADDR_NO_RANDOMIZE
    expect(call(filter, 'socket', [40n])).toBe(EPERM); // AF_VSOCK
    const names = new Set(defaultProfile.syscalls?.flatMap((s) => s.names ?? []));
    expect(alwaysRefused.filter((n) => names.has(n))).toEqual([]);
  });

  it('answers ENOSYS for calls newer than it, EPERM for known ones it refuses', () => {
    const filter = program();
    expect(call(filter, 'set_mempolicy_home_node')).toBe(EPERM); // 450, needs CAP_SYS_NICE
    expect(run(filter, { nr: 452 /* fchmodat2, Linux 6.6 */ })).toBe(ENOSYS);
    expect(run(filter, { nr: X32 + 2 })).toBe(ENOSYS);
    expect(run(filter, { nr: 2, arch: AUDIT_ARCH_I386 })).toBe(EPERM);
  });

  it('works on aarch64 too', () => {
    const filter = program(caps(), 'aarch64');
    expect(call(filter, 'openat', [], 'aarch64')).toBe(ALLOW);
    expect(call(filter, 'mkdirat', [], 'aarch64')).toBe(ALLOW);
    expect(call(filter, 'mount', [], 'aarch64')).toBe(EPERM);
    expect(call(filter, 'clone', [0x10000000n], 'aarch64')).toBe(EPERM);
    expect(call(filter, 'clone3', [], 'aarch64')).toBe(ENOSYS);
  });

  it('compiles for this machine', () => {
    expect(seccompFor({ profile: 'default', capabilities: caps() })?.length).toBeGreaterThan(0);
  });
});
