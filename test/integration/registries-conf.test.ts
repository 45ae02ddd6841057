/**
 * Image names and registries.conf as podman 4.3 has them, side by side with
 * podman on the same registries.conf (in a private $HOME/.config/containers,
 * where podman reads it) and a real registry on 127.0.0.1 standing in for
 * quay.io, as the conformance kit sets it up: what build, tag, import and load
 * name an image; which stored image a short name finds; pulls through
 * [[registry]] prefix/location, mirrors, blocked, unqualified-search
 * registries and aliases; a malformed file.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorLines, fail, hutch, ok, sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar } from '../helpers/images.js';
import { podman, type Podman } from '../helpers/peers.js';
import { needRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');
const needReg = needRegistry();
const skip = need.skip || needReg.skip;

/** The lines podman and hutch print about what they try, in order. */
function resolutionLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /^(Resolving|Trying to pull) /.test(l));
}

describe.skipIf(skip)('image names and registries.conf, as podman', () => {
  let registry: TestRegistry;
  let box: Sandbox;
  let peer: Podman;
  let home: string;
  let confFile: string;
  let rootfs: string;
  let id: string;

  /** The user's registries.conf, where podman 4.3 and hutch read it. */
  const writeConf = (text: string) => writeFileSync(confFile, text);
  const conformanceConf = (extra = '') => `unqualified-search-registries = ["docker.io"]
${extra}
[[registry]]
prefix = "quay.io/libpod"
location = "${registry.host}/libpod"
insecure = true

[[registry]]
location = "${registry.host}"
insecure = true
`;
  const names = (run: (args: string[]) => { stdout: string }) =>
    run(['images', '--format', '{{.Repository}}:{{.Tag}}']).stdout.trim().split('\n').filter(Boolean).sort();
  const hutchNames = () => names((args) => ({ stdout: ok(args, box) }));
  const podmanNames = () => names((args) => peer.run(args));

  beforeAll(async () => {
    registry = await startRegistry();
    box = sandbox();
    home = mkdtempSync(join(tmpdir(), 'hutch-home-'));
    mkdirSync(join(home, '.config', 'containers'), { recursive: true });
    confFile = join(home, '.config', 'containers', 'registries.conf');
    // Both read registries.conf from $HOME/.config (podman 4.3 ignores $XDG_CONFIG_HOME for it).
    box.env.HOME = home;
    box.env.XDG_CACHE_HOME = join(home, '.cache');
    writeConf(conformanceConf());
    peer = podman(box.env);
    rootfs = await busyboxRootfsTar();
    id = ok(['import', rootfs, 'app'], box).trim();
    expect(peer.run(['import', rootfs, 'app']).status).toBe(0);
    // The registry's content: what quay.io/libpod/testimage, a mirror and a search registry serve.
    for (const target of ['libpod/testimage:20220615', 'mirror/team/tool:1', 'other/thing:1']) {
      ok(['push', `app`, `${registry.host}/${target}`], box);
    }
  });
  afterAll(async () => {
    peer?.dispose();
    box?.dispose();
    rmSync(home, { recursive: true, force: true });
    await registry?.stop();
  });

  it('names what it makes under localhost/: import, tag, build', () => {
    for (const args of [['tag', 'app', 'foo', 'library/bar', 'docker.io/baz', 'quay.io/x/y', 'busybox:1']]) {
      ok(args, box);
      expect(peer.run(args).status).toBe(0);
    }
    const dir = mkdtempSync(join(tmpdir(), 'hutch-names-build-'));
    try {
      writeFileSync(join(dir, 'Containerfile'), 'FROM app\nLABEL built=yes\n');
      const built = hutch(['build', '-t', 'built', dir], box);
      expect(built.status, built.stderr).toBe(0);
      expect(built.stdout + built.stderr).toContain('Successfully tagged localhost/built:latest');
      expect(peer.run(['build', '-t', 'built', dir]).status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(hutchNames()).toEqual([
      'docker.io/library/baz:latest',
      'localhost/app:latest',
      'localhost/built:latest',
      'localhost/busybox:1',
      'localhost/foo:latest',
      'localhost/library/bar:latest',
      'quay.io/x/y:latest',
    ]);
    expect(hutchNames()).toEqual(podmanNames());
  });

  it('finds a short name as podman does: alias, localhost/, search registries, docker.io, a repository suffix', () => {
    const words = [
      'app',
      'foo',
      'bar',
      'library/bar',
      'baz',
      'y',
      'x/y',
      'busybox:1',
      'busybox',
      'localhost/foo',
      'myfoo',
    ];
    // Every image here is the one imported as app (podman's has another id: another creation time).
    const found = (run: (args: string[]) => { status: number | null; stdout: string }, own: string) =>
      words.map((w) => {
        const r = run(['image', 'inspect', '--format', '{{.Id}}', w]);
        if (r.status !== 0) return `${w} not found`;
        return `${w} ${r.stdout.trim() === own ? 'found' : `found another image ${r.stdout.trim()}`}`;
      });
    const podmanId = peer.run(['image', 'inspect', '--format', '{{.Id}}', 'localhost/app']).stdout.trim();
    const mine = found((args) => hutch(args, box), id.slice(7));
    expect(mine).toEqual(found((args) => peer.run(args), podmanId));
    expect(mine.filter((l) => l.endsWith(' not found'))).toEqual(['busybox not found', 'myfoo not found']);
    expect(fail(['image', 'inspect', 'busybox'], box)).toBe('Error: busybox: image not known');
  });

  it('a missing short name with no search registry: podman\'s error; a missing localhost/ name is tried at the registry "localhost"', () => {
    writeConf('unqualified-search-registries = []\n');
    try {
      const mine = hutch(['run', '--rm', 'nosuch', 'true'], box);
      const theirs = peer.run(['run', '--rm', 'nosuch', 'true']);
      expect(mine.status).toBe(125);
      expect(theirs.status).toBe(125);
      expect(errorLines(mine.stderr)).toEqual([
        `Error: short-name "nosuch" did not resolve to an alias and no unqualified-search registries are defined in "${confFile}"`,
      ]);
      expect(errorLines(mine.stderr)).toEqual(errorLines(theirs.stderr));
    } finally {
      writeConf(conformanceConf());
    }
    // podman 4.3 pulls localhost/NAME from the registry "localhost" (port 443 here refuses).
    const local = hutch(['run', '--rm', 'localhost/nosuch', 'true'], box);
    expect(local.status, local.stderr).toBe(125);
    expect(resolutionLines(local.stderr)).toEqual(['Trying to pull localhost/nosuch:latest...']);
    expect(errorLines(local.stderr)).toEqual([
      expect.stringMatching(/^Error: pull localhost\/nosuch:latest: cannot reach registry localhost /),
    ]);
  });

  it('pulls quay.io/libpod/testimage through prefix -> location, insecure, stored under the name asked for', () => {
    const image = 'quay.io/libpod/testimage:20220615';
    const mine = hutch(['pull', image], box);
    expect(mine.status, mine.stderr).toBe(0);
    expect(`sha256:${mine.stdout.trim()}`).toBe(id);
    const theirs = peer.run(['pull', image]);
    expect(theirs.status, theirs.stderr).toBe(0);
    expect(resolutionLines(mine.stderr)).toEqual([`Trying to pull ${image}...`]);
    expect(resolutionLines(mine.stderr)).toEqual(resolutionLines(theirs.stderr));
    expect(hutchNames()).toContain(image);
    expect(hutchNames()).toEqual(podmanNames());
    // And runs by that name, without a pull.
    const ran = hutch(['run', '--rm', '--pull=never', image, 'true'], box);
    expect(ran.status, ran.stderr).toBe(0);
  });

  it('tries mirrors in order before the location; a blocked registry is refused in podman words', () => {
    writeConf(
      conformanceConf(`
[[registry]]
prefix = "mirrored.example"
location = "127.0.0.1:1/nowhere"
[[registry.mirror]]
location = "127.0.0.1:2/down"
insecure = true
[[registry.mirror]]
location = "${registry.host}/mirror"
insecure = true

[[registry]]
location = "blocked.example"
blocked = true
`),
    );
    const mine = hutch(['pull', 'mirrored.example/team/tool:1'], box);
    expect(mine.status, mine.stderr).toBe(0);
    const theirs = peer.run(['pull', 'mirrored.example/team/tool:1']);
    expect(theirs.status, theirs.stderr).toBe(0);
    expect(hutchNames()).toContain('mirrored.example/team/tool:1');
    expect(hutchNames()).toEqual(podmanNames());

    // No mirror has this tag and the location refuses: every endpoint is named, the location last.
    const missing = hutch(['pull', 'mirrored.example/team/tool:2'], box);
    expect(missing.status).toBe(125);
    const lines = missing.stderr.split('\n');
    expect(lines[1]).toMatch(
      /^Error: pull mirrored.example\/team\/tool:2: \(Mirrors also failed: \[127\.0\.0\.1:2\/down\/team\/tool:2: /,
    );
    expect(lines[2]).toMatch(new RegExp(`^\\[${registry.host}/mirror/team/tool:2: .*MANIFEST_UNKNOWN`));
    expect(lines[2]).toMatch(/\]\): 127\.0\.0\.1:1\/nowhere\/team\/tool:2: cannot reach registry 127\.0\.0\.1:1 /);

    const blocked = `registry blocked.example is blocked in ${confFile} or ${join(home, '.config/containers/registries.conf.d')}`;
    expect(fail(['pull', 'blocked.example/x'], box)).toBe(`Error: pull blocked.example/x:latest: ${blocked}`);
    expect(peer.run(['pull', 'blocked.example/x']).stderr).toContain(blocked);
    expect(fail(['push', 'app', 'blocked.example/x'], box)).toBe(`Error: push blocked.example/x:latest: ${blocked}`);
    writeConf(conformanceConf());
  });

  it('a short name tries each unqualified-search registry in order; an alias comes first and alone', () => {
    writeConf(
      `unqualified-search-registries = ["127.0.0.1:1", "${registry.host}"]
[[registry]]
location = "${registry.host}"
insecure = true
[aliases]
"myalias" = "${registry.host}/other/thing"
`,
    );
    try {
      const mine = hutch(['pull', 'other/thing:1'], box);
      expect(mine.status, mine.stderr).toBe(0);
      const theirs = peer.run(['pull', 'other/thing:1']);
      expect(theirs.status, theirs.stderr).toBe(0);
      expect(resolutionLines(mine.stderr)).toEqual([
        `Resolving "other/thing" using unqualified-search registries (${confFile})`,
        'Trying to pull 127.0.0.1:1/other/thing:1...',
        `Trying to pull ${registry.host}/other/thing:1...`,
      ]);
      expect(resolutionLines(mine.stderr)).toEqual(resolutionLines(theirs.stderr));

      // Present now: a short name that names a stored image is pulled under that image's name.
      expect(resolutionLines(hutch(['pull', 'other/thing:1'], box).stderr)).toEqual([
        `Trying to pull ${registry.host}/other/thing:1...`,
      ]);

      ok(['rmi', `${registry.host}/other/thing:1`], box);
      const aliased = hutch(['pull', 'myalias:1'], box);
      expect(aliased.status, aliased.stderr).toBe(0);
      expect(resolutionLines(aliased.stderr)).toEqual([`Trying to pull ${registry.host}/other/thing:1...`]);
      expect(hutchNames()).toContain(`${registry.host}/other/thing:1`);

      const none = hutch(['pull', 'other/thing:nope'], box);
      expect(none.status).toBe(125);
      expect(none.stderr).toContain('Error: 2 errors occurred while pulling:\n * pull 127.0.0.1:1/other/thing:nope: ');
      expect(none.stderr).toContain(`\n * pull ${registry.host}/other/thing:nope: `);
    } finally {
      writeConf(conformanceConf());
    }
  });

  it('login: the first unqualified-search registry by default, none is an error; a blocked registry is refused', () => {
    // Nobody is logged in to docker.io here: the default is named in the answer.
    expect(fail(['login', '--get-login'], box)).toBe('Error: not logged into docker.io');
    expect(errorLines(peer.run(['login', '--get-login']).stderr)).toEqual(['Error: not logged into docker.io']);
    writeConf('unqualified-search-registries = []\n[[registry]]\nlocation = "blocked.example"\nblocked = true\n');
    try {
      const none = 'Error: no registries found in registries.conf, a registry must be provided';
      expect(fail(['login', '-u', 'a', '-p', 'b'], box)).toBe(none);
      expect(errorLines(peer.run(['login', '-u', 'a', '-p', 'b']).stderr)).toEqual([none]);
      const blocked = `registry blocked.example is blocked in ${confFile} or ${join(home, '.config/containers/registries.conf.d')}`;
      expect(fail(['login', '-u', 'a', '-p', 'b', 'blocked.example'], box)).toBe(
        `Error: authenticating creds for "blocked.example": ${blocked}`,
      );
      expect(peer.run(['login', '-u', 'a', '-p', 'b', 'blocked.example']).stderr).toContain(blocked);
    } finally {
      writeConf(conformanceConf());
    }
  });

  it('load names short RepoTags of a docker-archive under localhost/, as podman does', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hutch-names-load-'));
    try {
      const archive = join(dir, 'app.tar');
      ok(['save', '-o', archive, 'app'], box);
      const tree = join(dir, 'tree');
      mkdirSync(tree);
      expect(spawnSync('tar', ['-xf', archive, '-C', tree]).status).toBe(0);
      const manifest = JSON.parse(readFileSync(join(tree, 'manifest.json'), 'utf8')) as { RepoTags: string[] }[];
      (manifest[0] as { RepoTags: string[] }).RepoTags = ['short:1', 'team/app:2', 'docker.io/bb:3'];
      writeFileSync(join(tree, 'manifest.json'), JSON.stringify(manifest));
      const edited = join(dir, 'edited.tar');
      expect(spawnSync('tar', ['-cf', edited, '-C', tree, '.']).status).toBe(0);
      const loaded = ok(['load', '-i', edited], box);
      expect(loaded).toBe(
        'Loaded image: localhost/short:1\nLoaded image: localhost/team/app:2\nLoaded image: docker.io/library/bb:3\n',
      );
      const theirs = peer.run(['load', '-i', edited]);
      expect(theirs.status, theirs.stderr).toBe(0);
      expect(
        theirs.stdout
          .split('\n')
          .filter((l) => l.startsWith('Loaded image: '))
          .sort(),
      ).toEqual(loaded.trim().split('\n').sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a malformed registries.conf: one line naming the file and the line', () => {
    writeConf('unqualified-search-registries = ["docker.io"\n[[registry]]\nlocation = "x.io"\n');
    try {
      expect(fail(['pull', 'anything'], box)).toBe(
        `Error: loading registries configuration "${confFile}": line 2: expected "," or "]" in the array, not "["`,
      );
      writeConf('[[registry]]\nlocation = true\n');
      expect(fail(['pull', 'quay.io/x/y'], box)).toBe(
        `Error: loading registries configuration "${confFile}": line 2: registry.location must be a string, not a boolean`,
      );
      // A name with a registry needs no short-name resolution to be found in the store.
      expect(ok(['image', 'inspect', '--format', '{{.Id}}', 'localhost/app'], box).trim()).toBe(id.slice(7));
    } finally {
      writeConf(conformanceConf());
    }
  });
});
