/**
 * The verbs around an existing container, as the unprivileged user: logs,
 * inspect, top, commit, export, restart, container prune, and rmi of an
 * image a container uses; each bad input with its one Error: line and exit
 * status. Outputs are read back with other tools where there are some (tar,
 * skopeo).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fail, hutch, hutchRun, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { hutchBin, requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

/** Polls until check() holds (5 s at most). */
function eventually(check: () => boolean): boolean {
  for (let i = 0; i < 100; i++) {
    if (check()) return true;
    spawnSync('sleep', ['0.05']);
  }
  return check();
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** The first object of an inspect array, and a getter by dotted path (`State.Status`). */
function inspected(text: string): (path: string) => Json | undefined {
  const [first] = JSON.parse(text) as Json[];
  return (path) => {
    let current: Json | undefined = first;
    for (const key of path.split('.')) {
      current = current !== null && typeof current === 'object' && !Array.isArray(current) ? current[key] : undefined;
    }
    return current;
  };
}

function tarList(file: string): string[] {
  const result = spawnSync('tar', ['-tf', file], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`tar -tf ${file}: ${result.stderr}`);
  return result.stdout.trim().split('\n').sort();
}

describe.skipIf(need.skip)('container verbs', () => {
  let box: Sandbox;
  let work: string;
  let storage: string;

  beforeAll(async () => {
    box = sandbox();
    storage = join(box.env.XDG_DATA_HOME as string, 'hutch');
    work = mkdtempSync(join(tmpdir(), 'hutch-verbs-'));
    ok(['import', await busyboxRootfsTar(), 'busybox'], box);
  });
  afterAll(() => {
    hutch(['rm', '-t', '0', '-af'], box);
    box.dispose(work);
  });

  describe('logs', () => {
    beforeAll(() => {
      const run = hutch(
        [
          'run',
          '--name',
          'talker',
          'busybox',
          'sh',
          '-c',
          'echo out1; echo err1 >&2; printf part; sleep 0.1; echo ial; echo out2; printf unfinished',
        ],
        box,
      );
      expect(run.status, run.stderr).toBe(0);
    });

    it('writes stdout lines to stdout and stderr lines to stderr, partial lines joined', () => {
      const logs = hutch(['logs', 'talker'], box);
      expect(logs.status).toBe(0);
      expect(logs.stdout).toBe('out1\npartial\nout2\nunfinished');
      expect(logs.stderr).toBe('err1\n');
    });

    it('-t prefixes each line with its RFC 3339 time; --tail N keeps the last N lines', () => {
      const stamped = ok(['logs', '-t', 'talker'], box).split('\n');
      expect(stamped[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z out1$/);
      expect(stamped[1]).toMatch(/Z partial$/);
      const tail = hutch(['logs', '--tail', '2', 'talker'], box);
      expect(tail.stdout).toBe('out2\nunfinished');
      expect(tail.stderr).toBe('');
      expect(hutch(['logs', '--tail', '0', 'talker'], box).stdout).toBe('');
    });

    it('--since and --until select by time', () => {
      expect(hutch(['logs', '--since', '10m', 'talker'], box).stdout).toBe('out1\npartial\nout2\nunfinished');
      expect(hutch(['logs', '--until', '10m', 'talker'], box).stdout).toBe('');
      expect(hutch(['logs', '--since', String(Math.floor(Date.now() / 1000) + 3600), 'talker'], box).stdout).toBe('');
    });

    it('-f follows the log until the container exits', async () => {
      const id = ok(
        ['run', '-d', 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo line $i; sleep 0.3; done; echo bye >&2'],
        box,
      ).trim();
      const started = Date.now();
      const followed = await hutchRun(['logs', '-f', id], box);
      expect(followed.status, followed.stderr).toBe(0);
      expect(followed.stdout).toBe('line 1\nline 2\nline 3\n');
      expect(followed.stderr).toBe('bye\n');
      expect(Date.now() - started).toBeLessThan(8000);
    });

    it('refuses bad input', () => {
      expect(fail(['logs', 'nosuch'], box)).toBe(
        'Error: no container with name or ID "nosuch" found: no such container',
      );
      expect(fail(['logs', '--tail', 'x', 'talker'], box)).toMatch(/invalid argument "x" for "--tail" flag/);
      expect(fail(['logs', '--since', 'bogus', 'talker'], box)).toBe(
        'Error: parsing --since "bogus": unable to interpret time value',
      );
    });
  });

  describe('inspect', () => {
    it('shows what was run, as podman shapes it', () => {
      ok(
        [
          'run',
          '-d',
          '--name',
          'described',
          '-e',
          'FOO=bar',
          '--read-only',
          '--hostname',
          'desc-host',
          '-v',
          'described-vol:/data',
          '--tmpfs',
          '/scratch',
          '--label',
          'team=blue',
          'busybox',
          'sleep',
          '1000',
        ],
        box,
      );
      const info = inspected(ok(['container', 'inspect', 'described'], box));
      expect(info('Name')).toBe('described');
      expect(info('Id')).toMatch(/^[0-9a-f]{64}$/);
      expect(info('Path')).toBe('sleep');
      expect(info('Args')).toEqual(['1000']);
      expect(info('State.Status')).toBe('running');
      expect(info('State.Running')).toBe(true);
      expect(info('State.Pid')).toBeGreaterThan(0);
      expect(info('State.FinishedAt')).toBe('0001-01-01T00:00:00Z');
      expect(info('ImageName')).toBe('localhost/busybox:latest');
      expect(info('Rootfs')).toBe('');
      expect(existsSync(info('HostsPath') as string)).toBe(true);
      expect(info('Config.Env')).toContain('FOO=bar');
      expect(info('Config.Hostname')).toBe('desc-host');
      expect(info('Config.Cmd')).toEqual(['sleep', '1000']);
      expect(info('Config.Labels')).toEqual({ team: 'blue' });
      expect(info('HostConfig.ReadonlyRootfs')).toBe(true);
      expect(info('HostConfig.Binds')).toEqual(['described-vol:/data:rw,rprivate,nosuid,nodev,rbind']);
      expect(Object.keys(info('HostConfig.Tmpfs') as object)).toEqual(['/scratch']);
      expect(info('Mounts')).toEqual([
        {
          Type: 'volume',
          Name: 'described-vol',
          Source: join(storage, 'volumes', 'described-vol', '_data'),
          Destination: '/data',
          Driver: 'local',
          Mode: '',
          Options: ['nosuid', 'nodev', 'rbind'],
          RW: true,
          Propagation: 'rprivate',
        },
      ]);
      expect(ok(['inspect', '--format', '{{.State.Status}} {{.Config.Hostname}}', 'described'], box)).toBe(
        'running desc-host\n',
      );
    });

    it('records the exit code and the end', () => {
      const run = hutch(['run', '--name', 'exited3', 'busybox', 'sh', '-c', 'exit 3'], box);
      expect(run.status).toBe(3);
      const info = inspected(ok(['inspect', 'exited3'], box));
      expect(info('State.Status')).toBe('exited');
      expect(info('State.ExitCode')).toBe(3);
      expect(info('State.Running')).toBe(false);
      expect(info('State.Pid')).toBe(0);
      expect(Date.parse(info('State.FinishedAt') as string)).toBeGreaterThanOrEqual(
        Date.parse(info('State.StartedAt') as string),
      );
    });

    it('hutch inspect finds containers first, then images; --type narrows it', () => {
      const image = inspected(ok(['inspect', 'busybox'], box));
      expect(image('RootFS.Type')).toBe('layers');
      expect(ok(['inspect', '--type', 'container', '--format', '{{.Name}}', 'described'], box)).toBe('described\n');
      expect(ok(['inspect', '--type', 'image', '--format', '{{.Os}}', 'busybox'], box)).toBe('linux\n');
      expect(fail(['inspect', 'nosuch'], box)).toBe('Error: inspecting object: no such object: "nosuch"');
      expect(hutch(['inspect', 'nosuch'], box).stdout).toBe('[]\n');
      expect(fail(['inspect', '--type', 'container', 'busybox'], box)).toBe(
        'Error: inspecting object: no such container busybox',
      );
      expect(fail(['inspect', '--type', 'image', 'described'], box)).toBe(
        'Error: inspecting object: described: image not known',
      );
      expect(fail(['inspect', '--type', 'pod', 'described'], box)).toMatch(/^Error: invalid type "pod"/);
      expect(fail(['container', 'inspect', 'nosuch'], box)).toBe('Error: inspecting object: no such container nosuch');
      // What was found is printed even when another name is not.
      const mixed = hutch(['container', 'inspect', '--format', '{{.Name}}', 'described', 'nosuch'], box);
      expect(mixed.status).toBe(125);
      expect(mixed.stdout).toBe('described\n');
    });
  });

  describe('top', () => {
    it('lists the container’s processes with podman’s columns, pids as the container sees them', () => {
      ok(['run', '-d', '--name', 'topped', '-u', '1000', 'busybox', 'sleep', '1000'], box);
      ok(['exec', '-d', 'topped', 'sleep', '999'], box);
      const lines = ok(['top', 'topped'], box).trim().split('\n');
      expect(lines[0]?.split(/\s{2,}/)).toEqual(['USER', 'PID', 'PPID', '%CPU', 'ELAPSED', 'TTY', 'TIME', 'COMMAND']);
      const rows = lines.slice(1).map((l) => l.split(/\s{2,}/));
      expect(rows[0]?.slice(0, 4)).toEqual(['user', '1', '0', '0.000']);
      expect(rows[0]?.[4]).toMatch(/^[\d.]+(ms|s)$|^\d+m[\d.]+s$/);
      expect(rows[0]?.[5]).toBe('?');
      expect(rows[0]?.at(-1)).toBe('sleep 1000');
      expect(rows.map((r) => r.at(-1))).toContain('sleep 999');
      expect(rows).toHaveLength(2);
      expect(ok(['top', 'topped', 'pid', 'args'], box)).toMatch(/^PID {9}COMMAND\n1 {11}sleep 1000\n/);
    });

    it('runs ps(1) in the container for descriptors it does not know, and refuses a stopped container', () => {
      expect(ok(['top', 'topped', '-o', 'pid,comm'], box)).toMatch(/PID\s+COMMAND\n\s+1 sleep\n/);
      ok(['create', '--name', 'never-started', 'busybox', 'true'], box);
      expect(fail(['top', 'never-started'], box)).toBe('Error: top can only be used on running containers');
      expect(fail(['top', 'nosuch'], box)).toBe(
        'Error: no container with name or ID "nosuch" found: no such container',
      );
    });
  });

  describe('commit', () => {
    it('makes an image of the container’s changes that runs, deletions as whiteouts', () => {
      ok(
        [
          'run',
          '-d',
          '--name',
          'changer',
          'busybox',
          'sh',
          '-c',
          'echo new > /newfile; rm /home/user/hello.txt; rm -r /usr/sbin; touch /tmp/ready; sleep 1000',
        ],
        box,
      );
      expect(eventually(() => hutch(['exec', 'changer', 'test', '-e', '/tmp/ready'], box).status === 0)).toBe(true);
      const id = ok(
        [
          'commit',
          '-m',
          'a message',
          '-a',
          'someone',
          '-c',
          'CMD ["cat", "/newfile"]',
          '-c',
          'ENV A=b',
          'changer',
          'committed',
        ],
        box,
      ).trim();
      expect(id).toMatch(/^[0-9a-f]{64}$/);
      expect(ok(['run', '--rm', 'committed'], box)).toBe('new\n');
      expect(ok(['run', '--rm', 'committed', 'sh', '-c', 'ls -A /home/user; echo $A'], box)).toBe('b\n');
      expect(hutch(['run', '--rm', 'committed', 'ls', '/usr/sbin'], box).status).not.toBe(0);
      const info = inspected(ok(['image', 'inspect', 'committed'], box));
      expect(info('Id')).toBe(id);
      expect(info('Comment')).toBe('a message');
      expect(info('Author')).toBe('someone');
      expect(info('RootFS.Layers')).toHaveLength(2);
      expect((info('History') as { created_by: string }[]).at(-1)?.created_by).toMatch(/^sh -c echo new/);
      const skopeo = spawnSync('skopeo', ['inspect', `oci:${join(storage, 'oci')}:localhost/committed:latest`], {
        encoding: 'utf8',
      });
      expect(skopeo.status, skopeo.stderr).toBe(0);
      const { Layers: layers } = JSON.parse(skopeo.stdout) as { Layers: string[] };
      expect(layers).toHaveLength(2);
      // The layer itself: the new file, whiteouts for what was deleted, none of the mount points hutch made.
      const layer = join(storage, 'oci', 'blobs', ...(layers[1] as string).split(':'));
      const entries = spawnSync('tar', ['-tzf', layer], { encoding: 'utf8' }).stdout.split('\n');
      expect(entries).toEqual(expect.arrayContaining(['newfile', 'home/user/.wh.hello.txt', 'usr/.wh.sbin']));
      expect(entries.filter((e) => /etc\/(hosts|hostname|resolv\.conf)$/.test(e))).toEqual([]);
    });

    it('commits without a name; refuses -p, a bad --change, a bad name and a missing container', () => {
      expect(ok(['commit', 'changer'], box).trim()).toMatch(/^[0-9a-f]{64}$/);
      expect(fail(['commit', '-p', 'changer'], box)).toBe(
        'Error: pausing is not supported: a rootless container here has no cgroup freezer to pause it with',
      );
      expect(fail(['commit', '-c', 'FOO bar', 'changer'], box)).toBe(
        'Error: invalid change "FOO bar" - invalid instruction FOO',
      );
      expect(fail(['commit', 'changer', 'Not A Name'], box)).toMatch(/invalid image reference/);
      // The copy driver keeps no upper directory: a container it made cannot be committed.
      const copied = ok(['create', 'busybox', 'true'], box).trim();
      const configPath = join(storage, 'containers', copied, 'config.json');
      const config = JSON.parse(readFileSync(configPath, 'utf8')) as { rootfsDriver: string };
      writeFileSync(configPath, JSON.stringify({ ...config, rootfsDriver: 'copy' }));
      expect(fail(['commit', copied], box)).toMatch(/its rootfs driver "copy" keeps no upper directory/);
      expect(fail(['commit', 'nosuch'], box)).toBe(
        'Error: no container with name or ID "nosuch" found: no such container',
      );
    });
  });

  describe('export', () => {
    it('writes the same tree for a running and a stopped container', () => {
      ok(
        ['run', '-d', '--name', 'exported', 'busybox', 'sh', '-c', 'mkdir /made; echo x > /made/file; sleep 1000'],
        box,
      );
      expect(eventually(() => hutch(['exec', 'exported', 'test', '-e', '/made/file'], box).status === 0)).toBe(true);
      const toStdout = spawnSync(hutchBin, ['export', 'exported'], { env: box.env, maxBuffer: 64 << 20 });
      expect(toStdout.status, toStdout.stderr.toString()).toBe(0);
      writeFileSync(join(work, 'running.tar'), toStdout.stdout);
      ok(['stop', '-t', '0', 'exported'], box);
      ok(['export', '-o', join(work, 'stopped.tar'), 'exported'], box);
      const running = tarList(join(work, 'running.tar'));
      expect(running).toContain('made/file');
      expect(running).toContain('bin/busybox');
      expect(tarList(join(work, 'stopped.tar'))).toEqual(running);
    });

    it('refuses a terminal, a file it cannot create and a missing container', () => {
      const terminal = spawnSync('script', ['-qc', `${hutchBin} export exported`, '/dev/null'], {
        env: box.env,
        encoding: 'utf8',
      });
      expect(terminal.stdout).toMatch(/Error: refusing to export to terminal. Use -o flag or redirect/);
      expect(fail(['export', '-o', join(work, 'no', 'x.tar'), 'exported'], box)).toMatch(
        /^Error: creating file ".*x\.tar": ENOENT: no such file or directory$/,
      );
      expect(fail(['export', 'nosuch'], box)).toBe(
        'Error: no container with name or ID "nosuch" found: no such container',
      );
    });
  });

  describe('restart', () => {
    it('stops and starts again, a new process', () => {
      ok(['run', '-d', '--name', 'restarted', 'busybox', 'sleep', '1000'], box);
      const before = ok(['inspect', '--format', '{{.State.Pid}}', 'restarted'], box).trim();
      expect(ok(['restart', '-t', '1', 'restarted'], box)).toBe('restarted\n');
      const after = ok(['inspect', '--format', '{{.State.Status}} {{.State.Pid}}', 'restarted'], box).trim();
      expect(after).toMatch(/^running \d+$/);
      expect(after).not.toBe(`running ${before}`);
      // A stopped one is started.
      ok(['stop', '-t', '0', 'restarted'], box);
      expect(ok(['restart', 'restarted'], box)).toBe('restarted\n');
      expect(ok(['inspect', '--format', '{{.State.Status}}', 'restarted'], box)).toBe('running\n');
      expect(fail(['restart', 'nosuch'], box)).toBe(
        'Error: no container with name or ID "nosuch" found: no such container',
      );
      expect(fail(['restart', '-t', 'x', 'restarted'], box)).toMatch(/invalid argument "x" for "--time" flag/);
    });
  });

  describe('container prune', () => {
    it('removes every container that is not running and prints their ids', () => {
      const exited = ok(['run', '-d', 'busybox', 'true'], box).trim();
      ok(['wait', exited], box);
      const created = ok(['create', 'busybox', 'true'], box).trim();
      const running = ok(['run', '-d', 'busybox', 'sleep', '1000'], box).trim();
      const pruned = ok(['container', 'prune', '-f'], box).trim().split('\n');
      expect(pruned).toEqual(expect.arrayContaining([exited, created]));
      expect(pruned).not.toContain(running);
      const left = ok(['ps', '-a', '-q', '--no-trunc'], box).trim().split('\n');
      expect(left).toContain(running);
      expect(left).not.toContain(exited);
      expect(left).not.toContain(created);
      // Nothing to prune: nothing printed.
      expect(ok(['container', 'prune', '-f'], box)).toBe('');
    });
  });

  describe('rmi of an image a container uses', () => {
    it('refuses (exit 2) without -f; with -f removes the container too', async () => {
      ok(['import', await busyboxRootfsTar(), 'guarded'], box);
      const user = ok(['run', '-d', 'guarded', 'sleep', '1000'], box).trim();
      expect(fail(['rmi', 'guarded'], box, 2)).toBe(
        `Error: image used by ${user}: image is in use by a container: consider listing external containers and force-removing image`,
      );
      expect(ok(['images', '-q', 'guarded'], box)).not.toBe('');
      const removed = ok(['rmi', '-f', 'guarded'], box);
      expect(removed).toMatch(/^Untagged: localhost\/guarded:latest\nDeleted: [0-9a-f]{64}\n$/);
      expect(ok(['ps', '-a', '-q', '--no-trunc'], box)).not.toContain(user);
      expect(ok(['images', '-q', 'guarded'], box)).toBe('');
    });
  });
});
