/** --volumes-from as podman 4.3.1 takes it (its refusals checked on the development host). */
import { describe, expect, it } from 'vitest';
import { HutchError } from '../../src/errors.js';
import type { MountSpec } from '../../src/run/container/spec.js';
import type { ContainerStore } from '../../src/run/container/store.js';
import { parseVolumesFrom, volumesFromMounts } from '../../src/run/container/volumes-from.js';

const bind = (source: string, destination: string, readonly = false): MountSpec => ({
  type: 'bind',
  source,
  destination,
  readonly,
  recursive: true,
  options: [],
});

/** A store with one container, `src`, and the lookup error of podman's words for the rest. */
const store = {
  find(name: string) {
    if (name !== 'src') throw new HutchError(`no container with name or ID "${name}" found: no such container`);
    return {
      config: {
        id: 'a'.repeat(64),
        options: {
          mounts: [
            bind('/store/volumes/vf/_data', '/data'),
            bind('/tmp', '/hosttmp', true),
            { type: 'tmpfs', destination: '/tt', readonly: false, data: [], options: [] },
          ],
        },
      },
    };
  },
} as unknown as ContainerStore;

describe('parseVolumesFrom', () => {
  it('reads CTR[:ro|rw|z,…] and refuses other options in podman’s words', () => {
    expect(parseVolumesFrom('src')).toEqual({ container: 'src', readonly: undefined });
    expect(parseVolumesFrom('src:ro')).toEqual({ container: 'src', readonly: true });
    expect(parseVolumesFrom('src:z,rw')).toEqual({ container: 'src', readonly: false });
    expect(() => parseVolumesFrom('src:bogus')).toThrow(
      'invalid option "bogus" specified - volumes from another container can only use z,ro,rw options',
    );
  });
});

describe('volumesFromMounts', () => {
  it('copies binds and volumes at their destinations, not tmpfs (a warning), not where the new container mounts', () => {
    const warnings: string[] = [];
    const mounts = volumesFromMounts(store, ['src'], new Set(['/hosttmp']), (w) => warnings.push(w));
    expect(mounts).toEqual([bind('/store/volumes/vf/_data', '/data')]);
    expect(warnings).toEqual([`Unable to match volume /tt from container ${'a'.repeat(64)} for volumes-from`]);
  });

  it('makes every copied mount read-only with :ro, read-write with :rw', () => {
    const ro = volumesFromMounts(store, ['src:ro'], new Set(), () => undefined);
    expect(ro.map((m) => [m.destination, m.readonly])).toEqual([
      ['/data', true],
      ['/hosttmp', true],
    ]);
    const rw = volumesFromMounts(store, ['src:rw'], new Set(), () => undefined);
    expect(rw.every((m) => !m.readonly)).toBe(true);
  });

  it('names the container it could not find', () => {
    expect(() => volumesFromMounts(store, ['nosuch'], new Set(), () => undefined)).toThrow(
      'looking up container "nosuch" for volumes-from: no container with name or ID "nosuch" found: no such container',
    );
  });
});
