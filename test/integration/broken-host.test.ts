// Hosts that lack a piece hutch needs, made for real where an unprivileged user
// can make them: PATH without newuidmap, a newuidmap that is not setuid, and
// inside a user namespace of our own (where we are root and may bind-mount over
// /etc/subuid and lower user.max_user_namespaces): no subordinate ids,
// overlapping ranges, user namespaces disabled. hutch runs there as uid 1000.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { errorLines, hutch, sandbox } from '../helpers/hutch.js';
import { hutchBin, requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');

interface NestedHost {
  subuid?: string;
  subgid?: string;
  maxUserNamespaces?: number;
}

/** Runs `hutch ARGS` as uid 1000 inside a user namespace shaped like a broken host. */
function inNestedHost(host: NestedHost, args: string[], runs = 1) {
  const dir = mkdtempSync(join(tmpdir(), 'hutch-nested-'));
  const script = [
    'set -e',
    host.maxUserNamespaces === undefined ? '' : `echo ${host.maxUserNamespaces} > /proc/sys/user/max_user_namespaces`,
    `mount -t tmpfs tmpfs ${dir}`,
    `mkdir -p ${dir}/home ${dir}/run ${dir}/data`,
    `chown 1000:1000 ${dir}/home ${dir}/run ${dir}/data && chmod 700 ${dir}/run`,
    ...(['subuid', 'subgid'] as const).map((kind) =>
      host[kind] === undefined
        ? ''
        : `printf '${host[kind]}' > ${dir}/${kind} && mount --bind ${dir}/${kind} /etc/${kind}`,
    ),
    `cd ${dir}/home`,
    ...Array.from(
      { length: runs },
      () =>
        `setpriv --reuid=1000 --regid=1000 --clear-groups env HOME=${dir}/home XDG_RUNTIME_DIR=${dir}/run ` +
        `XDG_DATA_HOME=${dir}/data HUTCH_NODE=${process.execPath} ${hutchBin} ${args.join(' ')} || exit $?`,
    ),
  ].join('\n');
  return spawnSync('unshare', ['--user', '--map-root-user', '--map-auto', '--mount', 'sh', '-c', script], {
    encoding: 'utf8',
  });
}

describe.skipIf(need.skip)('a host without what hutch needs', () => {
  const box = sandbox();
  afterAll(() => box.dispose());

  it('newuidmap missing from PATH: one line naming the package, exit 125, no session', () => {
    const result = hutch(['unshare', '/usr/bin/id', '-u'], {
      env: { ...box.env, PATH: '/nonexistent', HUTCH_NODE: process.execPath },
    });
    expect(result.status).toBe(125);
    expect(errorLines(result.stderr)).toEqual([
      'Error: newuidmap not found on PATH: it writes the subordinate ids of /etc/subuid into the user namespace',
    ]);
    expect(result.stderr).toMatch(/^hint: install the uidmap package/m);
    expect(existsSync(join(box.runtime, 'session.pid'))).toBe(false);
  });

  it('newuidmap that is not setuid: names the file and the chmod', () => {
    const bin = mkdtempSync(join(tmpdir(), 'hutch-bin-'));
    copyFileSync('/usr/bin/newuidmap', join(bin, 'newuidmap'));
    copyFileSync('/usr/bin/newgidmap', join(bin, 'newgidmap'));
    const result = hutch(['unshare', '/usr/bin/id', '-u'], {
      env: { ...box.env, PATH: bin, HUTCH_NODE: process.execPath },
    });
    expect(result.status).toBe(125);
    expect(errorLines(result.stderr)).toEqual([
      `Error: ${bin}/newuidmap is neither setuid root nor has file capabilities, so it cannot write the id map`,
    ]);
    expect(result.stderr).toMatch(new RegExp(`^hint: sudo chmod u\\+s ${bin}/newuidmap`, 'm'));
    expect(existsSync(join(box.runtime, 'session.pid'))).toBe(false);
  });

  it('no subordinate ids: works with the single id, warns once which images will fail', () => {
    const result = inNestedHost({ subuid: '', subgid: '' }, ['unshare', 'cat', '/proc/self/uid_map'], 2);
    expect(result.status).toBe(0);
    const maps = result.stdout
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/).join(' '));
    expect(maps).toEqual(['0 1000 1', '0 1000 1']);
    const warnings = result.stderr.split('\n').filter((l) => l.startsWith('warning: '));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/no subordinate uids or gids for .* images with files owned by other users/);
  });

  it('a subordinate range that overlaps another user’s: exit 125 naming both', () => {
    const result = inNestedHost(
      { subuid: '1000:100000:65536\\nsomeone:150000:65536\\n', subgid: '1000:100000:65536\\n' },
      ['unshare', 'true'],
    );
    expect(result.status).toBe(125);
    // uid 1000 is named by /etc/passwd where it has a name.
    const lines = errorLines(result.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^Error: subordinate uid range 100000-165535 of \S+ \(\/etc\/subuid line 1\) overlaps someone's range 150000-215535 \(line 2\)$/,
    );
    expect(result.stderr).toMatch(/^hint: give each user ids of its own/m);
  });

  it('user namespaces disabled (user.max_user_namespaces = 0): exit 125 with the sysctl', () => {
    const result = inNestedHost({ subuid: '', subgid: '', maxUserNamespaces: 0 }, ['unshare', 'true']);
    expect(result.status).toBe(125);
    expect(errorLines(result.stderr)).toEqual([
      'Error: cannot create a user namespace: user namespaces are disabled (user.max_user_namespaces = 0)',
    ]);
    expect(result.stderr).toMatch(/^hint: as root: sysctl -w user.max_user_namespaces=/m);
  });

  it('a runtime directory others can write to is refused', () => {
    const shared = mkdtempSync(join(tmpdir(), 'hutch-shared-'));
    mkdirSync(join(shared, 'hutch'), { mode: 0o777 });
    spawnSync('chmod', ['777', join(shared, 'hutch')]);
    writeFileSync(join(shared, 'marker'), '');
    const result = hutch(['unshare', 'true'], { env: { ...box.env, XDG_RUNTIME_DIR: shared } });
    expect(result.status).toBe(125);
    expect(errorLines(result.stderr)[0]).toMatch(/runtime directory .* is not private to you/);
  });
});
