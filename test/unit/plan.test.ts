import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Plan, PlanOp } from '../../src/host/plan.js';

const header = readFileSync(new URL('../../native/plan.h', import.meta.url), 'utf8');

function nativeOps(): Map<string, number> {
  const ops = new Map<string, number>();
  for (const match of header.matchAll(/^\s*kOp(\w+) = (\d+),/gm)) ops.set(match[1] as string, Number(match[2]));
  return ops;
}

describe('plan encoding', () => {
  it('uses the op numbers of native/plan.h', () => {
    const ops = nativeOps();
    ops.delete('Max');
    const ts = Object.entries(PlanOp).filter(([, v]) => typeof v === 'number');
    expect(new Map(ts)).toEqual(ops);
    expect(ops.size).toBeGreaterThan(30);
  });

  it('writes the header and one 64-byte record per step', () => {
    const buffer = new Plan().waitParent().mkdir('/x', 0o755).encode();
    expect(buffer.readUInt32LE(0)).toBe(0x4e4c5048);
    expect(buffer.readUInt32LE(4)).toBe(1);
    expect(buffer.readUInt32LE(8)).toBe(2);
    const dataSize = buffer.readUInt32LE(12);
    expect(buffer.length).toBe(16 + 2 * 64 + dataSize);
    expect(buffer.readUInt32LE(16)).toBe(PlanOp.WaitParent);
    expect(buffer.readUInt32LE(16 + 64)).toBe(PlanOp.Mkdir);
    expect(buffer.readBigInt64LE(16 + 64 + 8)).toBe(0o755n);
  });

  it('stores strings NUL-terminated at offset plus one, and absent strings as 0', () => {
    const buffer = new Plan().mount(null, '/proc', 'proc', 0).encode();
    const data = buffer.subarray(16 + 64);
    const record = buffer.subarray(16, 16 + 64);
    expect(record.readUInt32LE(32)).toBe(0); // source: null
    const target = record.readUInt32LE(36);
    expect(data.toString('utf8', target - 1, target - 1 + 6)).toBe('/proc\0');
  });

  it('encodes lists as a count and offsets, 4-byte aligned', () => {
    const buffer = new Plan().exec('sh', ['sh', '-c', 'true'], ['A=1'], '/bin').encode();
    const data = buffer.subarray(16 + 64);
    const argv = buffer.readUInt32LE(16 + 48) - 1;
    expect(argv % 4).toBe(0);
    expect(data.readUInt32LE(argv)).toBe(3);
    const second = data.readUInt32LE(argv + 8) - 1;
    expect(data.toString('utf8', second, second + 3)).toBe('-c\0');
  });

  it('omits the search path when the file has a slash', () => {
    const buffer = new Plan().exec('/bin/sh', ['sh'], [], '/bin').encode();
    expect(buffer.readUInt32LE(16 + 36)).toBe(0);
  });

  it('refuses strings with NUL bytes and dup2 onto the sync fd range', () => {
    expect(() => new Plan().chdir('a\0b').encode()).toThrow(/NUL/);
    expect(() => new Plan().dup2(3, 100)).toThrow(RangeError);
  });

  it('describes a step by its system call and path', () => {
    const plan = new Plan().mkdir('/a', 0o700).mount('overlay', '/m', 'overlay', 0, 'lowerdir=/l');
    expect(plan.describe(1)).toEqual({ syscall: 'mount', path: '/m' });
    expect(plan.describe(0)).toEqual({ syscall: 'mkdir', path: '/a' });
  });
});
