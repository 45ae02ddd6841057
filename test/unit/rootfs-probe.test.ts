/** podman's --storage-driver as hutch takes it (src/run/rootfs/probe.ts). */
import { describe, expect, it } from 'vitest';
import { storageDriverOf } from '../../src/run/rootfs/probe.js';

describe('storageDriverOf', () => {
  it('takes overlay and vfs, nothing when not given, and refuses the drivers hutch has not', () => {
    expect(storageDriverOf('overlay')).toBe('overlay');
    expect(storageDriverOf('vfs')).toBe('vfs');
    expect(storageDriverOf(undefined)).toBeUndefined();
    expect(storageDriverOf('')).toBeUndefined();
    for (const other of ['btrfs', 'zfs', 'devicemapper', 'aufs'])
      expect(() => storageDriverOf(other)).toThrow(`unsupported storage driver "${other}"`);
  });
});
