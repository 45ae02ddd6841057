// `hutch info` as built, checked against what other tools and files say about this machine.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync, statSync } from 'node:fs';
import { arch, cpus, release, totalmem, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Check, HostInfo } from '../../src/verbs/info.js';
import { errorLines, sandbox, sessionPid, type Sandbox } from '../helpers/hutch.js';
import { requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');
const bin = fileURLToPath(new URL('../../bin/hutch', import.meta.url));

function hutch(args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(bin, args, { env, encoding: 'utf8', cwd: '/' });
}

function infoJson(env: NodeJS.ProcessEnv): HostInfo {
  const result = hutch(['info', '--format', 'json'], env);
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout) as HostInfo;
}

/** The current user's ranges in a subid file, read without hutch's parser. */
function ownRanges(file: string): { start: number; count: number }[] {
  const { username } = userInfo();
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim().split(':'))
    .filter((f) => f.length === 3 && (f[0] === username || f[0] === String(process.getuid?.())))
    .map((f) => ({ start: Number(f[1]), count: Number(f[2]) }));
}

function readWrite(path: string): boolean {
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

const sh = (script: string): string => execFileSync('sh', ['-c', script], { encoding: 'utf8' }).trim();

describe.skipIf(need.skip)('hutch info', () => {
  let box: Sandbox;
  let info: HostInfo;
  let text: string;

  beforeAll(() => {
    box = sandbox();
    info = infoJson(box.env);
    const result = hutch(['info'], box.env);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    text = result.stdout;
  });
  afterAll(() => box.dispose());

  it('describes the host as the OS and Node see it', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(info.host).toEqual({
      hutch: pkg.version,
      node: execFileSync(box.env.HUTCH_NODE || 'node', ['--version'], { encoding: 'utf8' }).trim(),
      kernel: release(),
      distribution: sh('. /etc/os-release && printf %s "$PRETTY_NAME"'),
      arch: arch(),
      cpus: cpus().length,
      memoryBytes: totalmem(),
    });
    expect(info.user).toEqual({
      uid: process.getuid?.(),
      gid: process.getgid?.(),
      name: userInfo().username,
      rootless: true,
    });
  });

  it('finds user namespaces usable exactly when unshare(1) can use one', () => {
    const unshare = spawnSync('unshare', ['--user', '--map-root-user', '--uts', 'hostname', 'hutch-probe']);
    expect(info.userNamespaces.usable.ok).toBe(unshare.status === 0);
    expect(info.userNamespaces.usable.ok).toBe(true);
    expect(info.userNamespaces.maxUserNamespaces).toBe(
      Number(readFileSync('/proc/sys/user/max_user_namespaces', 'utf8')),
    );
  });

  it("reports the user's subordinate ranges as /etc/subuid and /etc/subgid list them", () => {
    const subuid = ownRanges('/etc/subuid');
    const subgid = ownRanges('/etc/subgid');
    expect(subuid.length).toBeGreaterThan(0);
    expect(info.idMappings.subuid).toEqual(subuid);
    expect(info.idMappings.subgid).toEqual(subgid);
    const mapFrom = (own: number, ranges: { start: number; count: number }[]) => {
      let next = 1;
      return [
        { inside: 0, outside: own, count: 1 },
        ...ranges.map((r) => {
          const line = { inside: next, outside: r.start, count: r.count };
          next += r.count;
          return line;
        }),
      ];
    };
    expect(info.idMappings.uid).toEqual(mapFrom(process.getuid?.() as number, subuid));
    expect(info.idMappings.gid).toEqual(mapFrom(process.getgid?.() as number, subgid));
    expect(info.idMappings.mappings.ok).toBe(true);
  });

  it('finds newuidmap and newgidmap where the shell does, usable when setuid root', () => {
    for (const name of ['newuidmap', 'newgidmap'] as const) {
      const path = sh(`command -v ${name}`);
      const st = statSync(path);
      expect(info.idMappings[name].path).toBe(path);
      expect(info.idMappings[name].ok).toBe((st.mode & 0o4000) !== 0 && st.uid === 0);
    }
  });

  it('puts storage under XDG_DATA_HOME and names its file system as stat -f does', () => {
    expect(info.storage.storage).toBe(join(box.env.XDG_DATA_HOME as string, 'hutch'));
    expect(info.storage.runtime).toBe(join(box.env.XDG_RUNTIME_DIR as string, 'hutch'));
    expect(info.storage.fileSystem.path).toBe(info.storage.storage);
    expect(info.storage.fileSystem.magic).toBe(`0x${sh(`stat -f -c %t '${info.storage.storage}'`)}`);
    // The overlay probe worked in <storage>/tmp and removed its directory.
    expect(readdirSync(join(info.storage.storage, 'tmp'))).toEqual([]);
    expect(statSync(info.storage.storage).mode & 0o777).toBe(0o700);
  });

  it('mounts overlayfs in a user namespace of its own, and selects it', () => {
    const overlay = info.rootfs.drivers.find((d) => d.name === 'overlay');
    expect(overlay).toEqual({
      name: 'overlay',
      ok: true,
      detail: 'native overlayfs mounts in a user namespace (userxattr)',
    });
    expect(info.rootfs.selected).toBe('overlay');
    expect(info.rootfs.drivers.map((d) => d.name)).toEqual(['overlay', 'fuse-overlayfs', 'copy']);
  });

  it('judges fuse-overlayfs, slirp4netns and pasta by their binaries and devices', () => {
    const which = (name: string) => spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
    const driver = (report: { drivers: (Check & { name: string })[] }, name: string) =>
      report.drivers.find((d) => d.name === name) as Check;
    const fuse = which('fuse-overlayfs');
    expect(driver(info.rootfs, 'fuse-overlayfs').ok).toBe(fuse !== '' && readWrite('/dev/fuse'));
    if (fuse !== '') {
      const version = spawnSync(fuse, ['--version'], { encoding: 'utf8' }).stdout;
      const line = version.split('\n').find((l) => l.includes('fuse-overlayfs')) as string;
      expect(driver(info.rootfs, 'fuse-overlayfs').detail).toContain(line.trim());
    }
    const slirp = which('slirp4netns');
    const pasta = which('pasta');
    const tun = readWrite('/dev/net/tun');
    expect(driver(info.network, 'slirp4netns').ok).toBe(slirp !== '' && tun);
    expect(driver(info.network, 'pasta').ok).toBe(pasta !== '' && tun);
    if (slirp !== '') {
      const first = execFileSync(slirp, ['--version'], { encoding: 'utf8' }).split('\n')[0] as string;
      expect(driver(info.network, 'slirp4netns').detail).toBe(`${first} at ${slirp}`);
    }
    expect(info.network.selected).toBe(slirp !== '' && tun ? 'slirp4netns' : pasta !== '' && tun ? 'pasta' : 'none');
  });

  it('agrees with access(2) on /dev/net/tun and /dev/fuse', () => {
    expect(info.devices.tun.ok).toBe(readWrite('/dev/net/tun'));
    expect(info.devices.fuse.ok).toBe(readWrite('/dev/fuse'));
  });

  it('classifies cgroups as the mount table shows them', () => {
    const unified = sh('stat -f -c %T /sys/fs/cgroup') === 'cgroup2fs';
    const mounts = readFileSync('/proc/mounts', 'utf8').split('\n');
    const hasV2 = mounts.some((l) => l.split(' ')[2] === 'cgroup2');
    const hasV1 = mounts.some((l) => l.split(' ')[2] === 'cgroup' && !/(^|,)name=/.test(l.split(' ')[3] ?? ''));
    expect(info.cgroups.layout).toBe(unified ? 'v2' : hasV1 && hasV2 ? 'hybrid' : hasV1 ? 'v1' : 'none');
    const own = /^0::(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
    expect(info.cgroups.v2Path).toBe(own ?? null);
    if (info.cgroups.v2Dir !== null) {
      const controllers = readFileSync(join(info.cgroups.v2Dir, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
      expect(info.cgroups.controllers).toEqual(controllers.filter((c) => c !== ''));
      expect(info.cgroups.delegated).toBe(statSync(info.cgroups.v2Dir).uid === process.getuid?.());
    }
    expect(info.cgroups.checks.layout.ok).toBe(info.cgroups.layout === 'v2');
  });

  it('lists every failing check under problems, with its fix', () => {
    const checks: Check[] = [
      info.userNamespaces.usable,
      info.idMappings.mappings,
      info.idMappings.newuidmap,
      info.idMappings.newgidmap,
      ...Object.values(info.cgroups.checks),
      info.devices.tun,
      info.devices.fuse,
    ];
    for (const check of checks.filter((c) => !c.ok)) {
      expect(info.problems.some((p) => p.problem.includes(check.detail) && p.fix === check.fix)).toBe(true);
    }
    // This host's cgroups are a v1/v2 hybrid unless booted otherwise: then the fix is named.
    if (info.cgroups.layout === 'hybrid') {
      expect(info.problems.map((p) => p.fix)).toContain(
        'boot with systemd.unified_cgroup_hierarchy=1 on the kernel command line to get cgroup v2 controllers',
      );
    }
    const fixes = info.problems.map((p) => p.fix);
    expect(new Set(fixes).size).toBe(fixes.length);
  });

  it('prints the same facts as text, grouped by section, each failing check followed by its fix', () => {
    const sections = text.split('\n').filter((l) => /^[a-z][^:]*:/.test(l));
    expect(sections.map((l) => l.replace(/:.*/, ''))).toEqual([
      'host',
      'user namespaces',
      'id mappings',
      'storage',
      'rootfs drivers',
      'network',
      'cgroups',
      'devices',
      'limits',
      'problems',
    ]);
    const lines = text.split('\n');
    const processes = info.limits.processes;
    const at = lines.indexOf(`  processes: ${processes.ok ? 'ok' : 'no'}, ${processes.detail}`);
    expect(lines[at - 1]).toBe('limits:');
    if (!processes.ok) expect(lines[at + 1]).toBe(`    fix: ${processes.fix}`);
    // The exhaustion bounds in force: disk reserve, processes (above), container logs.
    expect(info.limits.logs).toEqual({ maxSize: 0, maxFiles: 1 });
    expect(lines).toContain(
      '  container logs: not rotated by default, as podman (log_size_max = -1); --log-opt max-size=SIZE --log-opt max-file=N bounds one container at SIZE × N',
    );
    expect(lines.some((l) => /^ {2}disk reserve: \S/.test(l))).toBe(true);
    for (const d of [...info.rootfs.drivers, ...info.network.drivers]) {
      const at = lines.indexOf(`  ${d.name}: ${d.ok ? 'ok' : 'no'}, ${d.detail}`);
      expect(at, d.name).toBeGreaterThan(-1);
      if (!d.ok && d.fix !== undefined) expect(lines[at + 1]).toBe(`    fix: ${d.fix}`);
    }
    expect(lines).toContain(`  selected: ${info.rootfs.selected}`);
    expect(lines).toContain(
      `  subuid: ${info.idMappings.subuid.map((r) => `${r.start}-${r.start + r.count - 1} (${r.count})`).join(', ')}`,
    );
    if (info.problems.length === 0) {
      expect(text.endsWith('problems: none\n')).toBe(true);
    } else {
      const problems = lines.slice(lines.indexOf('problems:') + 1).filter((l) => l !== '');
      expect(problems).toEqual(
        info.problems.flatMap((p) => [
          `  - ${p.area}: ${p.problem}`,
          ...(p.fix === undefined ? [] : [`    fix: ${p.fix}`]),
        ]),
      );
    }
    expect(text).toContain('  session: none');
  });

  it('refuses any other --format with one Error: line and status 125', () => {
    const result = hutch(['info', '--format', 'yaml'], box.env);
    expect(result.status).toBe(125);
    expect(result.stdout).toBe('');
    expect(errorLines(result.stderr)).toEqual(['Error: unsupported --format yaml: use json']);
  });

  it('reports the session and its id maps from inside it, and probes overlay there', () => {
    const start = hutch(['unshare', 'true'], box.env);
    expect(start.status).toBe(0);
    const holder = sessionPid(box.runtime);
    expect(holder).toBeDefined();
    const inside = infoJson(box.env);
    expect(inside.session).toMatchObject({ active: true, pid: holder, inside: true });
    expect(inside.session.uidMap).toBe(hutch(['unshare', 'cat', '/proc/self/uid_map'], box.env).stdout);
    expect(inside.session.gidMap).toBe(hutch(['unshare', 'cat', '/proc/self/gid_map'], box.env).stdout);
    // Seen from inside, the user is still the host user.
    expect(inside.user.uid).toBe(process.getuid?.());
    expect(inside.rootfs.drivers[0]).toEqual({
      name: 'overlay',
      ok: true,
      detail: 'native overlayfs mounts in the hutch session (userxattr)',
    });
    expect(inside.idMappings.newuidmap.ok).toBe(info.idMappings.newuidmap.ok);
    expect(inside.storage).toEqual(info.storage);
    expect(readdirSync(join(inside.storage.storage, 'tmp'))).toEqual([]);
  });
});
