/**
 * -v, --mount and --tmpfs parsing (pure), and resolveMounts with the named
 * volumes it creates on first use (a temp storage directory, no privileges).
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ContextError, HutchError } from '../../src/errors.js';
import {
  parseMountFlag,
  parseTmpfsFlag,
  parseVolumeFlag,
  resolveMounts,
  splitCsv,
  type MountRequest,
} from '../../src/run/container/mount-options.js';
import {
  createVolume,
  inspectVolume,
  listVolumes,
  pruneVolumes,
  removeVolume,
  volumeMountpoint,
} from '../../src/run/volumes.js';

/** Temp directories of this file, removed when it is done. */
const scratchDirs: string[] = [];
function scratch(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratchDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

function failure(fn: () => unknown): HutchError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(HutchError);
    return error as HutchError;
  }
  throw new Error('expected a HutchError');
}

async function failureOf(promise: Promise<unknown>): Promise<HutchError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(HutchError);
    return error as HutchError;
  }
  throw new Error('expected a HutchError');
}

describe('-v / --volume', () => {
  it('a host path is a recursive bind; a name a volume with nosuid,nodev; no source an anonymous volume', () => {
    expect(parseVolumeFlag('/data:/srv')).toEqual({
      type: 'bind',
      flag: '-v /data:/srv',
      source: '/data',
      destination: '/srv',
      readonly: false,
      recursive: true,
      options: [],
    });
    expect(parseVolumeFlag('./rel:/x/../y/', '/home/u')).toMatchObject({
      type: 'bind',
      source: '/home/u/rel',
      destination: '/y',
    });
    expect(parseVolumeFlag('cache:/var/cache:ro')).toEqual({
      type: 'volume',
      flag: '-v cache:/var/cache:ro',
      name: 'cache',
      destination: '/var/cache',
      readonly: true,
      options: ['nosuid', 'nodev'],
      copy: true,
    });
    expect(parseVolumeFlag('/data')).toMatchObject({ type: 'volume', name: undefined, destination: '/data' });
    expect(parseVolumeFlag('v:/d:suid,exec,nocopy')).toMatchObject({ options: ['nodev'], copy: false });
  });

  it('takes ro, rw, z, Z, nosuid, nodev, noexec, bind, rbind and a propagation', () => {
    expect(parseVolumeFlag('/a:/b:ro,z,nosuid,nodev,noexec,bind,rslave')).toMatchObject({
      readonly: true,
      recursive: false,
      options: ['nosuid', 'nodev', 'noexec'],
      propagation: 'rslave',
    });
    expect(parseVolumeFlag('/a:/b:rw,Z,rbind')).toMatchObject({ readonly: false, recursive: true, options: [] });
  });

  it('names the flag and the problem', () => {
    expect(failure(() => parseVolumeFlag('a:b:c:d')).message).toBe('invalid -v "a:b:c:d": too many colons');
    expect(failure(() => parseVolumeFlag('/a:rel')).message).toBe(
      'invalid -v "/a:rel": the destination "rel" is not an absolute path',
    );
    expect(failure(() => parseVolumeFlag('/a:/b:ro,rw')).message).toBe(
      'invalid -v "/a:/b:ro,rw": option "rw" conflicts with an earlier one',
    );
    expect(failure(() => parseVolumeFlag('/a:/b:foo')).message).toBe(
      'invalid -v "/a:/b:foo": option "foo" is not a volume option',
    );
    expect(failure(() => parseVolumeFlag('/a:/b:U')).message).toBe(
      'invalid -v "/a:/b:U": option "U" is not supported by hutch',
    );
    expect(failure(() => parseVolumeFlag('bad$name:/b')).message).toMatch(/neither an absolute path nor a volume name/);
    expect(failure(() => parseVolumeFlag('vol:/b:rbind')).message).toMatch(/apply to host directories, not volumes/);
    expect(failure(() => parseVolumeFlag('/a:/')).message).toBe('invalid -v "/a:/": cannot mount over /');
    expect(failure(() => parseVolumeFlag('a:b:c:d')).exitCode).toBe(125);
  });
});

describe('--mount', () => {
  it('parses docker CSV, quotes included', () => {
    expect(splitCsv('type=bind,"source=/a,b",target=/c')).toEqual(['type=bind', 'source=/a,b', 'target=/c']);
    expect(splitCsv('a="x""y"')).toEqual(['a=x"y']);
    expect(
      parseMountFlag('type=bind,"source=/a,b",dst=/c,readonly,bind-propagation=rshared,bind-nonrecursive'),
    ).toEqual({
      type: 'bind',
      flag: '--mount type=bind,"source=/a,b",dst=/c,readonly,bind-propagation=rshared,bind-nonrecursive',
      source: '/a,b',
      destination: '/c',
      readonly: true,
      recursive: false,
      options: [],
      propagation: 'rshared',
    });
    expect(parseMountFlag('type=volume,src=data,destination=/d,ro=false,volume-nocopy')).toMatchObject({
      type: 'volume',
      name: 'data',
      readonly: false,
      copy: false,
      options: ['nosuid', 'nodev'],
    });
    expect(parseMountFlag('type=volume,target=/d')).toMatchObject({ type: 'volume', name: undefined });
    expect(parseMountFlag('type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770')).toEqual({
      type: 'tmpfs',
      flag: '--mount type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770',
      destination: '/t',
      readonly: false,
      data: ['size=64m', 'mode=1770'],
      options: ['nosuid', 'nodev', 'noexec'],
      copyUp: true,
    });
    // podman copies the image's content into a tmpfs unless told notmpcopyup.
    expect(parseMountFlag('type=tmpfs,dst=/t,notmpcopyup')).toMatchObject({ copyUp: false });
    expect(parseMountFlag('type=tmpfs,dst=/t,notmpcopyup,tmpcopyup')).toMatchObject({ copyUp: true });
  });

  it('names the flag and the problem', () => {
    const message = (value: string) => failure(() => parseMountFlag(value)).message;
    expect(message('target=/x')).toBe('invalid --mount "target=/x": type= is required (bind, volume or tmpfs)');
    expect(message('type=foo,target=/x')).toBe(
      'invalid --mount "type=foo,target=/x": type=foo: expected bind, volume or tmpfs',
    );
    expect(message('type=bind,source=/a')).toMatch(/target= \(or destination=, dst=\) is required/);
    expect(message('type=bind,target=/x')).toMatch(/source= is required for a bind mount/);
    expect(message('type=tmpfs,target=/x,tmpfs-size=abc')).toMatch(/tmpfs-size=abc is not a size/);
    expect(message('type=tmpfs,target=rel')).toMatch(/the destination "rel" is not an absolute path/);
    expect(message('type=bind,src=/a,dst=/x,bind-propagation=weird')).toMatch(
      /bind-propagation=weird: expected one of/,
    );
    expect(message('type=bind,src=/a,dst=/x,unknown=1')).toMatch(/unknown option "unknown"/);
    expect(message('type=volume,src=/abs,dst=/x')).toMatch(/neither an absolute path nor a volume name/);
    expect(message('type=tmpfs,src=x,dst=/x')).toMatch(/type=tmpfs takes no source/);
    expect(message('type=tmpfs,dst=/x,notmpcopyup=1')).toMatch(/notmpcopyup takes no value/);
    expect(message('type=bind,"src=/a,dst=/x')).toBe(
      'invalid --mount "type=bind,\\"src=/a,dst=/x": an unterminated quote',
    );
  });
});

describe('--tmpfs', () => {
  it("has podman's defaults and takes mount(8)'s tmpfs options", () => {
    expect(parseTmpfsFlag('/run')).toEqual({
      type: 'tmpfs',
      flag: '--tmpfs /run',
      destination: '/run',
      readonly: false,
      data: [],
      options: ['nosuid', 'nodev', 'noexec'],
      copyUp: true,
    });
    expect(parseTmpfsFlag('/t:rw,exec,size=10m,mode=755,uid=1000,tmpcopyup')).toMatchObject({
      data: ['size=10m', 'mode=755', 'uid=1000'],
      options: ['nosuid', 'nodev'],
      copyUp: true,
    });
    expect(parseTmpfsFlag('/t:notmpcopyup')).toMatchObject({ copyUp: false, data: [] });
    expect(parseTmpfsFlag('/t:ro')).toMatchObject({ readonly: true });
  });

  it('names the flag and the problem', () => {
    expect(failure(() => parseTmpfsFlag('rel')).message).toBe(
      'invalid --tmpfs "rel": the destination "rel" is not an absolute path',
    );
    expect(failure(() => parseTmpfsFlag('/x:foo')).message).toBe(
      'invalid --tmpfs "/x:foo": unknown mount option "foo"',
    );
    expect(failure(() => parseTmpfsFlag('/x:size=lots')).message).toBe(
      'invalid --tmpfs "/x:size=lots": size=lots is not a size',
    );
  });
});

describe('resolveMounts and volumes', () => {
  const storage = () => scratch('hutch-volumes-');

  it('checks bind sources, creates named volumes on first use, makes anonymous ones', async () => {
    const dir = storage();
    const source = scratch('hutch-bind-');
    const requests: MountRequest[] = [
      parseVolumeFlag(`${source}:/src:ro`),
      parseVolumeFlag('data:/data'),
      parseVolumeFlag('/anon'),
      parseTmpfsFlag('/t:size=1m'),
      parseMountFlag(`type=bind,src=${source},dst=/p,bind-propagation=rprivate`),
      parseTmpfsFlag('/n:notmpcopyup'),
    ];
    const resolved = await resolveMounts(requests, dir);
    expect(resolved.mounts[0]).toEqual({
      type: 'bind',
      source,
      destination: '/src',
      readonly: true,
      recursive: true,
      options: [],
    });
    expect(resolved.mounts[1]).toEqual({
      type: 'bind',
      source: volumeMountpoint(dir, 'data'),
      destination: '/data',
      readonly: false,
      recursive: true,
      options: ['nosuid', 'nodev'],
    });
    expect(statSync(volumeMountpoint(dir, 'data')).isDirectory()).toBe(true);
    expect(resolved.volumes[0]).toBe('data');
    expect(resolved.volumes[1]).toMatch(/^[a-f0-9]{64}$/);
    expect(resolved.created).toEqual([
      { name: 'data', anonymous: false },
      { name: resolved.volumes[1], anonymous: true },
    ]);
    expect(resolved.mounts[3]).toEqual({
      type: 'tmpfs',
      destination: '/t',
      readonly: false,
      data: ['size=1m'],
      options: ['nosuid', 'nodev', 'noexec'],
    });
    expect(resolved.mounts[4]).toMatchObject({ propagation: 'rprivate' });
    // Stored only when it is not podman's default.
    expect(resolved.mounts[5]).toMatchObject({ type: 'tmpfs', destination: '/n', copyUp: false });
    // Used again: the same volume, not created twice.
    const again = await resolveMounts([parseVolumeFlag('data:/other')], dir);
    expect(again.created).toEqual([]);
  });

  it('refuses a bind source that does not exist and two mounts on one destination', async () => {
    const error = await failureOf(resolveMounts([parseVolumeFlag('/nonexistent-hutch:/x')], storage()));
    expect(error.message).toBe('bind source /nonexistent-hutch does not exist');
    expect(error.exitCode).toBe(125);
    const twice = await failureOf(resolveMounts([parseTmpfsFlag('/x'), parseVolumeFlag('v:/x')], storage()));
    expect(twice.message).toBe('-v v:/x: /x is already the destination of --tmpfs /x');
  });

  // Root reads through any mode: the unreadable case is an unprivileged user's.
  it.skipIf(process.getuid?.() === 0)('a bind source that cannot be looked at is not called missing', async () => {
    const closed = scratch('hutch-closed-');
    mkdirSync(join(closed, 'inside'));
    chmodSync(closed, 0o000);
    try {
      const error = await resolveMounts([parseVolumeFlag(`${closed}/inside:/x`)], storage()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ContextError);
      expect((error as Error).message).toBe(
        `bind source ${closed}/inside: EACCES: permission denied, stat '${closed}/inside'`,
      );
    } finally {
      chmodSync(closed, 0o700);
    }
  });

  it('volume create, ls, inspect, rm and prune as podman has them', async () => {
    const dir = storage();
    const made = await createVolume(dir, { name: 'one', labels: { a: 'b' } });
    expect(made).toMatchObject({
      Name: 'one',
      Driver: 'local',
      Mountpoint: join(dir, 'volumes', 'one', '_data'),
      Labels: { a: 'b' },
      Scope: 'local',
      Options: {},
      MountCount: 0,
      Anonymous: false,
    });
    expect(Number.isNaN(Date.parse(made.CreatedAt))).toBe(false);
    expect(JSON.parse(readFileSync(join(dir, 'volumes', 'one', 'volume.json'), 'utf8'))).toMatchObject({ name: 'one' });
    expect((await failureOf(createVolume(dir, { name: 'one' }))).message).toBe(
      'volume with name one already exists: volume already exists',
    );
    expect((await createVolume(dir, { name: 'one', ignoreIfExists: true })).Name).toBe('one');
    await createVolume(dir, { name: 'two' });
    writeFileSync(join(volumeMountpoint(dir, 'two'), 'f'), 'x');
    await createVolume(dir, { name: 'three', labels: { a: 'c' } });

    expect(listVolumes(dir).map((v) => v.Name)).toEqual(['one', 'three', 'two']);
    expect(listVolumes(dir, { filters: ['label=a'] }).map((v) => v.Name)).toEqual(['one', 'three']);
    expect(listVolumes(dir, { filters: ['label=a=c'] }).map((v) => v.Name)).toEqual(['three']);
    expect(listVolumes(dir, { filters: ['name=^t'] }).map((v) => v.Name)).toEqual(['three', 'two']);
    const usedBy = (name: string) => (name === 'two' ? ['web'] : []);
    expect(listVolumes(dir, { filters: ['dangling=true'], usedBy }).map((v) => v.Name)).toEqual(['one', 'three']);
    expect(inspectVolume(dir, 'two', usedBy).MountCount).toBe(1);

    const missing = failure(() => inspectVolume(dir, 'nope'));
    expect(missing.message).toBe('no volume with name "nope" found: no such volume');
    expect((await failureOf(removeVolume(dir, 'nope'))).exitCode).toBe(1);
    const busy = await failureOf(removeVolume(dir, 'two', { usedBy }));
    expect(busy.message).toBe('volume two is being used by the following container(s): web: volume is being used');
    expect(busy.exitCode).toBe(2);
    await removeVolume(dir, 'one');
    expect(listVolumes(dir).map((v) => v.Name)).toEqual(['three', 'two']);
    expect(await pruneVolumes(dir, { usedBy })).toEqual(['three']);
    await removeVolume(dir, 'two', { usedBy, force: true });
    expect(listVolumes(dir)).toEqual([]);
    expect((await failureOf(createVolume(dir, { name: '-bad' }))).message).toMatch(/invalid volume name "-bad"/);
    expect((await failureOf(createVolume(dir, { name: 'x', options: { type: 'tmpfs' } }))).message).toMatch(
      /volume option "type" is not supported/,
    );
  });
});
