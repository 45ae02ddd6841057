import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HutchError } from '../../src/errors.js';
import type { ProcessSpec } from '../../src/run/container/spec.js';
import { Plan, PlanOp } from '../../src/host/plan.js';
import {
  capabilitiesUpTo,
  capabilityNames,
  capabilityNamesOf,
  capabilityNumber,
  containerCapabilities,
  defaultCapabilities,
  kernelLastCap,
  ownBoundingSet,
  parseCapabilityList,
} from '../../src/run/security/capabilities.js';
import { credentialSteps, seccompPlacement } from '../../src/run/security/process-privileges.js';

const ALL_40 = capabilitiesUpTo(40);
const base = { lastCap: 40, available: ALL_40 };
const mask = (...names: string[]) => parseCapabilityList(names).mask;

describe('capability names', () => {
  it('numbers CAP_CHOWN 0 … CAP_CHECKPOINT_RESTORE 40, as linux/capability.h', () => {
    expect(capabilityNames).toHaveLength(41);
    expect(capabilityNumber('CAP_CHOWN')).toBe(0);
    expect(capabilityNumber('CAP_SYS_ADMIN')).toBe(21);
    expect(capabilityNumber('CAP_SETFCAP')).toBe(31);
    expect(capabilityNumber('CAP_CHECKPOINT_RESTORE')).toBe(40);
  });

  it('accepts names with or without CAP_, in any case', () => {
    expect(capabilityNumber('net_raw')).toBe(13);
    expect(capabilityNumber('Cap_Net_Raw')).toBe(13);
    expect(capabilityNumber(' NET_RAW ')).toBe(13);
    expect(parseCapabilityList(['all', 'chown'])).toEqual({ all: true, mask: 1n });
  });

  it('refuses unknown names with a hint to the man page', () => {
    let error: unknown;
    try {
      capabilityNumber('foo');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(HutchError);
    expect((error as HutchError).message).toBe('unknown capability "CAP_FOO"');
    expect((error as HutchError).hint).toContain('man 7 capabilities');
    expect((error as HutchError).exitCode).toBe(125);
  });

  it('names the bits of a mask', () => {
    expect(capabilityNamesOf(mask('KILL', 'CHOWN', 'BPF'))).toEqual(['CAP_CHOWN', 'CAP_KILL', 'CAP_BPF']);
    expect(capabilityNamesOf(1n << 45n)).toEqual(['CAP_45']);
  });

  it('is podman’s default set', () => {
    expect(defaultCapabilities).toBe(0x800405fbn); // CapBnd of `podman run` with runc
    expect(capabilityNamesOf(defaultCapabilities)).toHaveLength(11);
  });

  it('reads the kernel’s last capability and the own bounding set', () => {
    const last = kernelLastCap();
    expect(last).toBeGreaterThanOrEqual(36);
    const dir = mkdtempSync(join(tmpdir(), 'hutch-caps-'));
    expect(kernelLastCap(dir)).toBe(40);
    writeFileSync(join(dir, 'status'), 'Name:\tx\nCapBnd:\t000001fffeffffff\n');
    expect(ownBoundingSet(join(dir, 'status'))).toBe(0x1fffeffffffn);
    expect(ownBoundingSet(join(dir, 'missing'))).toBeUndefined();
    expect(ownBoundingSet()).toBeTypeOf('bigint');
    rmSync(dir, { recursive: true });
  });
});

describe('containerCapabilities', () => {
  it('root: effective = permitted = bounding = the default set, nothing inheritable or ambient', () => {
    expect(containerCapabilities({ uid: 0, ...base })).toEqual({
      bounding: defaultCapabilities,
      effective: defaultCapabilities,
      permitted: defaultCapabilities,
      inheritable: 0n,
      ambient: 0n,
    });
  });

  it('a non-root user keeps the default bounding set but holds nothing', () => {
    expect(containerCapabilities({ uid: 1000, ...base })).toEqual({
      bounding: defaultCapabilities,
      effective: 0n,
      permitted: 0n,
      inheritable: 0n,
      ambient: 0n,
    });
  });

  it('a non-root user holds the explicitly added capabilities, ambient too', () => {
    const caps = containerCapabilities({ uid: 1000, capAdd: ['net_raw', 'SYS_ADMIN'], capDrop: ['chown'], ...base });
    const added = mask('NET_RAW', 'SYS_ADMIN');
    expect(caps.bounding).toBe((defaultCapabilities & ~mask('CHOWN')) | added); // podman: 0x802425fa
    expect(caps.bounding).toBe(0x802425fan);
    expect(caps).toMatchObject({ effective: added, permitted: added, inheritable: added, ambient: added });
  });

  it('adds and drops for root', () => {
    const caps = containerCapabilities({ uid: 0, capAdd: ['NET_ADMIN'], capDrop: ['KILL', 'setuid'], ...base });
    const expected = (defaultCapabilities | mask('NET_ADMIN')) & ~mask('KILL', 'SETUID');
    expect(caps).toMatchObject({ bounding: expected, effective: expected, permitted: expected, ambient: 0n });
  });

  it('ALL in add means every capability the kernel knows, minus the drops', () => {
    expect(containerCapabilities({ uid: 0, capAdd: ['ALL'], capDrop: ['NET_RAW'], ...base }).bounding).toBe(
      ALL_40 & ~mask('NET_RAW'),
    );
    expect(containerCapabilities({ uid: 0, capAdd: ['all'], lastCap: 37, available: ALL_40 }).bounding).toBe(
      capabilitiesUpTo(37),
    );
    const user = containerCapabilities({ uid: 5, capAdd: ['ALL'], ...base });
    expect(user).toMatchObject({ bounding: ALL_40, ambient: ALL_40, effective: ALL_40 });
  });

  it('ALL in drop means only the added ones', () => {
    expect(containerCapabilities({ uid: 0, capDrop: ['ALL'], capAdd: ['chown'], ...base }).bounding).toBe(1n);
    expect(containerCapabilities({ uid: 0, capDrop: ['all'], ...base })).toEqual({
      bounding: 0n,
      effective: 0n,
      permitted: 0n,
      inheritable: 0n,
      ambient: 0n,
    });
  });

  it('privileged: every capability; a non-root user still holds only what was added', () => {
    expect(containerCapabilities({ uid: 0, privileged: true, ...base }).effective).toBe(ALL_40);
    expect(containerCapabilities({ uid: 1000, privileged: true, ...base })).toMatchObject({
      bounding: ALL_40,
      effective: 0n,
      ambient: 0n,
    });
  });

  it('refuses what podman refuses', () => {
    expect(() => containerCapabilities({ uid: 0, capAdd: ['NET_RAW'], capDrop: ['net_raw'], ...base })).toThrow(
      'capability "CAP_NET_RAW" cannot be dropped and added',
    );
    expect(() => containerCapabilities({ uid: 0, capAdd: ['ALL'], capDrop: ['ALL'], ...base })).toThrow(HutchError);
    expect(() => containerCapabilities({ uid: 0, capAdd: ['CAP_FOO'], ...base })).toThrow(
      'unknown capability "CAP_FOO"',
    );
    expect(() => containerCapabilities({ uid: 0, capDrop: ['bogus'], ...base })).toThrow(/unknown capability/);
  });

  it('stays within what hutch holds: ALL quietly, a named capability with an error', () => {
    const available = ALL_40 & ~mask('SYS_RESOURCE'); // this host's root lacks it
    expect(containerCapabilities({ uid: 0, capAdd: ['ALL'], lastCap: 40, available }).bounding).toBe(available);
    expect(() => containerCapabilities({ uid: 0, capAdd: ['SYS_RESOURCE'], lastCap: 40, available })).toThrow(
      /cannot add capability CAP_SYS_RESOURCE/,
    );
    const without = ALL_40 & ~mask('SETFCAP');
    expect(containerCapabilities({ uid: 0, lastCap: 40, available: without }).bounding).toBe(
      defaultCapabilities & ~mask('SETFCAP'),
    );
  });
});

function processSpec(overrides: Partial<ProcessSpec>): ProcessSpec {
  return {
    args: ['/bin/true'],
    env: [],
    cwd: '/',
    uid: 0,
    gid: 0,
    additionalGids: [],
    terminal: false,
    noNewPrivileges: false,
    capabilities: containerCapabilities({ uid: 0, ...base }),
    seccomp: Buffer.alloc(8),
    rlimits: [],
    umask: 0o022,
    ...overrides,
  };
}

function ops(process: ProcessSpec, setgroupsAllowed = true): string[] {
  const plan = new Plan();
  credentialSteps(plan, process, { setgroupsAllowed });
  return plan.steps.map((s) => PlanOp[s.op]);
}

describe('credentialSteps', () => {
  it('orders the steps as capabilities(7) requires, with no_new_privs and seccomp last', () => {
    const process = processSpec({ uid: 1000, gid: 1000, additionalGids: [10, 50], noNewPrivileges: true });
    expect(ops(process)).toEqual([
      'CapBounding',
      'Setgroups',
      'Setresgid',
      'KeepCaps',
      'Setresuid',
      'CapSet',
      'CapAmbient',
      'KeepCaps',
      'NoNewPrivs',
      'Seccomp',
    ]);
    const plan = new Plan();
    credentialSteps(plan, process, { setgroupsAllowed: true });
    const [bounding, groups, gid, keep, uid, capset, ambient, unkeep, , filter] = plan.steps;
    expect(bounding?.num[0]).toBe(defaultCapabilities);
    expect(groups?.blob).toEqual(Buffer.from([10, 0, 0, 0, 50, 0, 0, 0]));
    expect(gid?.num).toEqual([1000n, 1000n, 1000n]);
    expect(keep?.num[0]).toBe(1n);
    expect(uid?.num).toEqual([1000n, 1000n, 1000n]);
    expect(capset?.num).toEqual([defaultCapabilities, defaultCapabilities, 0n]);
    expect(ambient?.num[0]).toBe(0n);
    expect(unkeep?.num[0]).toBe(0n);
    expect(filter?.blob).toEqual(process.seccomp);
  });

  it('calls setgroups with an empty list to clear inherited groups, and skips it when denied', () => {
    expect(ops(processSpec({}))).toContain('Setgroups');
    expect(ops(processSpec({}), false)).not.toContain('Setgroups');
  });

  it('loads the filter before capset for root when no_new_privs is off', () => {
    expect(seccompPlacement(processSpec({}))).toBe('before-capset');
    expect(ops(processSpec({}))).toEqual([
      'CapBounding',
      'Setgroups',
      'Setresgid',
      'KeepCaps',
      'Setresuid',
      'Seccomp',
      'CapSet',
      'CapAmbient',
      'KeepCaps',
    ]);
  });

  it('loads the filter before setresuid for another user when no_new_privs is off', () => {
    const process = processSpec({ uid: 1000, capabilities: containerCapabilities({ uid: 1000, ...base }) });
    expect(seccompPlacement(process)).toBe('before-setresuid');
    expect(ops(process).slice(3, 6)).toEqual(['KeepCaps', 'Seccomp', 'Setresuid']);
  });

  it('loads the filter last when the process keeps CAP_SYS_ADMIN', () => {
    const capabilities = containerCapabilities({ uid: 1000, capAdd: ['SYS_ADMIN'], ...base });
    const process = processSpec({ uid: 1000, capabilities });
    expect(seccompPlacement(process)).toBe('last');
    expect(ops(process).at(-1)).toBe('Seccomp');
  });

  it('has no seccomp step for an unconfined process', () => {
    expect(ops(processSpec({ seccomp: undefined }))).not.toContain('Seccomp');
    expect(ops(processSpec({ seccomp: undefined, noNewPrivileges: true })).at(-1)).toBe('NoNewPrivs');
  });
});
