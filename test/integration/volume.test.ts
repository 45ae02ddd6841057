/**
 * hutch volume create, ls, inspect, rm and prune as the unprivileged user,
 * with podman's outputs and exit statuses, and the containers that use a
 * volume (rm refuses it without -f; -f removes them first; prune keeps it).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fail, hutch, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

interface VolumeJson {
  Name: string;
  Driver: string;
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Scope: string;
  Options: Record<string, string>;
  MountCount: number;
}

describe.skipIf(need.skip)('hutch volume', () => {
  let box: Sandbox;
  let storage: string;

  beforeAll(async () => {
    box = sandbox();
    storage = join(box.env.XDG_DATA_HOME as string, 'hutch');
    ok(['import', await busyboxRootfsTar(), 'busybox'], box);
  });
  afterAll(() => {
    hutch(['rm', '-t', '0', '-af'], box);
    box.dispose();
  });

  it('creates named and anonymous volumes and prints their names', () => {
    expect(ok(['volume', 'create', 'first'], box)).toBe('first\n');
    expect(ok(['volume', 'create', '--label', 'team=blue', '-l', 'tier', 'second'], box)).toBe('second\n');
    const anonymous = ok(['volume', 'create'], box).trim();
    expect(anonymous).toMatch(/^[0-9a-f]{64}$/);
    expect(existsSync(join(storage, 'volumes', 'first', '_data'))).toBe(true);
    expect(ok(['volume', 'create', '--ignore', 'first'], box)).toBe('first\n');
    ok(['volume', 'rm', anonymous], box);
  });

  it('refuses a name that exists, a bad name, an option or driver it does not have', () => {
    expect(fail(['volume', 'create', 'first'], box)).toBe(
      'Error: volume with name first already exists: volume already exists',
    );
    expect(fail(['volume', 'create', 'bad/name'], box)).toMatch(/^Error: invalid volume name "bad\/name"/);
    expect(fail(['volume', 'create', '-o', 'type=tmpfs', 'third'], box)).toMatch(
      /volume option "type" is not supported/,
    );
    expect(fail(['volume', 'create', '--driver', 'nfs', 'third'], box)).toBe(
      'Error: volume driver "nfs" is not supported',
    );
  });

  it('lists volumes as podman does: a table, -q, --format json and templates, --filter', () => {
    expect(ok(['volume', 'ls'], box)).toBe('DRIVER      VOLUME NAME\nlocal       first\nlocal       second\n');
    expect(ok(['volume', 'ls', '-q'], box)).toBe('first\nsecond\n');
    const json = JSON.parse(ok(['volume', 'ls', '--format', 'json'], box)) as VolumeJson[];
    expect(json.map((v) => v.Name)).toEqual(['first', 'second']);
    expect(json[1]?.Labels).toEqual({ team: 'blue', tier: '' });
    expect(ok(['volume', 'ls', '--format', '{{.Name}} {{.Driver}}'], box)).toBe('first local\nsecond local\n');
    expect(ok(['volume', 'ls', '-q', '--filter', 'label=team=blue'], box)).toBe('second\n');
    expect(ok(['volume', 'ls', '-q', '--filter', 'name=fir'], box)).toBe('first\n');
    expect(fail(['volume', 'ls', '--filter', 'colour=red'], box)).toMatch(/invalid volume filter "colour"/);
  });

  it('inspects volumes: podman’s fields, MountCount from the containers', () => {
    const [first] = JSON.parse(ok(['volume', 'inspect', 'first'], box)) as VolumeJson[];
    expect(first).toMatchObject({
      Name: 'first',
      Driver: 'local',
      Mountpoint: join(storage, 'volumes', 'first', '_data'),
      Labels: {},
      Scope: 'local',
      Options: {},
      MountCount: 0,
    });
    expect(Date.parse(first?.CreatedAt as string)).not.toBeNaN();
    ok(['create', '--name', 'user-of-first', '-v', 'first:/data', 'busybox', 'true'], box);
    expect(ok(['volume', 'inspect', '--format', '{{.MountCount}}', 'first'], box)).toBe('1\n');
    expect((JSON.parse(ok(['volume', 'inspect', '--all'], box)) as VolumeJson[]).map((v) => v.Name)).toEqual([
      'first',
      'second',
    ]);
    expect(fail(['volume', 'inspect', 'nosuch'], box)).toBe('Error: inspecting object: no such volume nosuch');
    expect(hutch(['volume', 'inspect', 'nosuch'], box).stdout).toBe('[]\n');
    expect(fail(['volume', 'inspect'], box)).toBe('Error: provide one or more volume names or use --all');
    // hutch inspect finds volumes too.
    expect(ok(['inspect', '--format', '{{.Mountpoint}}', 'second'], box)).toBe(
      `${join(storage, 'volumes', 'second', '_data')}\n`,
    );
  });

  it('rm refuses a volume a container uses (exit 2), a missing one (exit 1); -f removes its containers', () => {
    const user = ok(['ps', '-a', '-q', '--no-trunc'], box).trim();
    expect(fail(['volume', 'rm', 'first'], box, 2)).toBe(
      `Error: volume first is being used by the following container(s): ${user}: volume is being used`,
    );
    expect(fail(['volume', 'rm', 'nosuch'], box, 1)).toBe('Error: no volume with name "nosuch" found: no such volume');
    // A volume made by -v at create is used too.
    ok(['run', '-d', '--name', 'runner', '-v', 'made-by-run:/data', 'busybox', 'sleep', '1000'], box);
    expect(fail(['volume', 'rm', 'made-by-run'], box, 2)).toMatch(/is being used by the following container/);
    expect(ok(['volume', 'rm', '-f', 'first', 'made-by-run'], box)).toBe('first\nmade-by-run\n');
    expect(ok(['ps', '-a', '-q'], box)).toBe('');
    expect(existsSync(join(storage, 'volumes', 'first'))).toBe(false);
    expect(fail(['volume', 'rm'], box)).toBe('Error: choose either one or more volumes or all');
  });

  it('prune removes the volumes no container uses and prints their names', () => {
    ok(['volume', 'create', 'kept'], box);
    ok(['volume', 'create', 'unused'], box);
    ok(['create', '-v', 'kept:/data', 'busybox', 'true'], box);
    const answeredNo = hutch(['volume', 'prune'], { env: box.env, input: 'n\n' });
    expect(answeredNo.status).toBe(0);
    expect(answeredNo.stdout).toMatch(/The following volumes will be removed:\nsecond\nunused\nAre you sure/);
    expect(ok(['volume', 'ls', '-q'], box)).toBe('kept\nsecond\nunused\n');
    expect(ok(['volume', 'prune', '-f'], box)).toBe('second\nunused\n');
    expect(ok(['volume', 'ls', '-q'], box)).toBe('kept\n');
    expect(ok(['volume', 'prune', '-f'], box)).toBe('');
    ok(['rm', '-a'], box);
    expect(ok(['volume', 'rm', '--all'], box)).toBe('kept\n');
    expect(ok(['volume', 'ls'], box)).toBe('DRIVER      VOLUME NAME\n');
  });
});
