import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HutchError } from '../../src/errors.js';
import {
  authLocations,
  defaultAuthFile,
  defaultAuthLocation,
  lookupCredentials,
  matchKey,
  normalizeKey,
  readAuthFile,
  removeAllCredentials,
  removeCredentials,
  storeCredentials,
  writeAuthFile,
} from '../../src/image/registry/credentials.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const uid = process.getuid?.() ?? 0;
/** A uid with no /run/user directory. */
const NOBODY_UID = 4_000_000;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hutch-creds-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('where the auth file is (podman 4)', () => {
  it('takes $REGISTRY_AUTH_FILE first', () => {
    const env = { REGISTRY_AUTH_FILE: '/x/auth.json', XDG_RUNTIME_DIR: dir };
    expect(defaultAuthFile({ env, hostUid: uid, root: false })).toBe('/x/auth.json');
  });

  it('takes $XDG_RUNTIME_DIR/containers/auth.json when the directory is ours', () => {
    expect(defaultAuthFile({ env: { XDG_RUNTIME_DIR: dir }, hostUid: uid, root: false })).toBe(
      join(dir, 'containers', 'auth.json'),
    );
  });

  it("ignores an XDG_RUNTIME_DIR that is missing or someone else's, then falls back to $TMPDIR/podman-run-UID", () => {
    let foreign = '/';
    if (uid === 0) {
      foreign = join(dir, 'foreign');
      mkdirSync(foreign);
      chownSync(foreign, 65534, 65534);
    }
    for (const xdg of [join(dir, 'missing'), foreign, 'relative/dir']) {
      const env = { XDG_RUNTIME_DIR: xdg, TMPDIR: dir };
      expect(defaultAuthFile({ env, hostUid: NOBODY_UID, root: false })).toBe(
        join(dir, `podman-run-${NOBODY_UID}`, 'containers', 'auth.json'),
      );
    }
  });

  it("takes $HOME/rundir (podman's last resort) when the one in $TMPDIR is not private, from its top down", () => {
    const home = join(dir, 'home');
    mkdirSync(home);
    const tmp = join(dir, `podman-run-${NOBODY_UID}`);
    const env = { TMPDIR: dir, HOME: home };
    const rundir = { path: join(home, 'rundir', 'containers', 'auth.json'), privateFrom: join(home, 'rundir') };
    // Ours and private, or not there yet: used, and checked again when written.
    expect(defaultAuthLocation({ env, hostUid: NOBODY_UID, root: false })).toEqual({
      path: join(tmp, 'containers', 'auth.json'),
      privateFrom: tmp,
    });
    // Others may write to it (as to a directory someone else made, they could replace the file).
    mkdirSync(tmp, { mode: 0o700 });
    chmodSync(tmp, 0o777);
    expect(defaultAuthLocation({ env, hostUid: NOBODY_UID, root: false })).toEqual(rundir);
    // Private itself, but containers/ below it is not a directory of ours (a symlink to anywhere).
    chmodSync(tmp, 0o700);
    symlinkSync(dir, join(tmp, 'containers'));
    expect(defaultAuthLocation({ env, hostUid: NOBODY_UID, root: false })).toEqual(rundir);
    // A group-writable containers/ is no better.
    rmSync(join(tmp, 'containers'));
    mkdirSync(join(tmp, 'containers'));
    chmodSync(join(tmp, 'containers'), 0o770);
    expect(defaultAuthLocation({ env, hostUid: NOBODY_UID, root: false })).toEqual(rundir);
  });

  it('refuses when neither fallback is private, naming both and what to set instead', () => {
    const home = join(dir, 'home');
    mkdirSync(join(home, 'rundir'), { recursive: true });
    chmodSync(join(home, 'rundir'), 0o777);
    mkdirSync(join(dir, `podman-run-${NOBODY_UID}`));
    chmodSync(join(dir, `podman-run-${NOBODY_UID}`), 0o775);
    let error: unknown;
    try {
      authLocations({ env: { TMPDIR: dir, HOME: home }, hostUid: NOBODY_UID, root: false });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(HutchError);
    expect((error as HutchError).message).toBe(
      `registry credentials directory ${join(home, 'rundir')} is not private to you: group or others may write to it (mode 0777)`,
    );
    expect((error as HutchError).hint).toBe(
      `${join(dir, `podman-run-${NOBODY_UID}`)} is not private to you: group or others may write to it (mode 0775) too; ` +
        'set REGISTRY_AUTH_FILE to a file in a directory only you can write (or give --authfile), ' +
        'or XDG_RUNTIME_DIR to a directory of yours, as a login session has',
    );
    // No home to put rundir in (podman: "cannot resolve home"): refused too, not created.
    expect(() =>
      defaultAuthLocation({ env: { TMPDIR: dir, HOME: join(dir, 'nohome') }, hostUid: NOBODY_UID, root: false }),
    ).toThrow(
      `registry credentials directory ${join(dir, `podman-run-${NOBODY_UID}`)} is not private to you: group or others may write to it (mode 0775), and $HOME/rundir cannot take its place: ENOENT`,
    );
    expect(existsSync(join(dir, 'nohome'))).toBe(false);
    // An explicit file is the user's choice, wherever it is.
    expect(
      authLocations({ env: { TMPDIR: dir, HOME: home }, hostUid: NOBODY_UID, root: false }, '/tmp/a.json').write,
    ).toBe('/tmp/a.json');
  });

  it('uses /run/containers/UID for real root without XDG_RUNTIME_DIR', () => {
    expect(defaultAuthFile({ env: {}, hostUid: 0, root: true })).toBe('/run/containers/0/auth.json');
  });

  it('reads the auth file, then $XDG_CONFIG_HOME/containers/auth.json, then docker; --authfile alone', () => {
    const env = { XDG_RUNTIME_DIR: dir, HOME: '/home/u', XDG_CONFIG_HOME: '/home/u/.cfg' };
    const where = authLocations({ env, hostUid: uid, root: false });
    expect(where.read).toEqual([
      join(dir, 'containers', 'auth.json'),
      '/home/u/.cfg/containers/auth.json',
      '/home/u/.docker/config.json',
    ]);
    expect(where.write).toBe(where.read[0]);
    expect(authLocations({ env, hostUid: uid, root: false }, '/a.json').read).toEqual(['/a.json']);
    expect(authLocations({ env: { ...env, DOCKER_CONFIG: '/d' }, hostUid: uid, root: false }).docker).toBe(
      '/d/config.json',
    );
  });
});

describe('keys', () => {
  it('normalizes docker URL keys and Docker Hub names', () => {
    expect(normalizeKey('https://index.docker.io/v1/')).toBe('docker.io');
    expect(normalizeKey('http://localhost:5000/v2/')).toBe('localhost:5000');
    expect(normalizeKey('quay.io/team/')).toBe('quay.io/team');
    expect(normalizeKey('registry-1.docker.io')).toBe('docker.io');
  });

  it('picks the longest prefix at a path boundary', () => {
    const keys = ['quay.io', 'quay.io/team', 'quay.io/team/app', 'quay.io/te'];
    expect(matchKey(keys, 'quay.io/team/app')).toBe('quay.io/team/app');
    expect(matchKey(keys, 'quay.io/team/other')).toBe('quay.io/team');
    expect(matchKey(keys, 'quay.io/tea/x')).toBe('quay.io');
    expect(matchKey(keys, 'quay.io')).toBe('quay.io');
    expect(matchKey(keys, 'quay.iox/team')).toBeUndefined();
  });

  it('prefers docker.io over the legacy key when both exist', () => {
    expect(matchKey(['https://index.docker.io/v1/', 'docker.io'], 'docker.io/library/busybox')).toBe('docker.io');
    expect(matchKey(['https://index.docker.io/v1/'], 'docker.io/library/busybox')).toBe('https://index.docker.io/v1/');
  });
});

describe('lookups', () => {
  function files(podman: object, docker: object) {
    const write = join(dir, 'auth.json');
    const dockerFile = join(dir, 'docker.json');
    writeFileSync(write, JSON.stringify(podman));
    writeFileSync(dockerFile, JSON.stringify(docker));
    return { write, read: [write, join(dir, 'none.json'), dockerFile], docker: dockerFile };
  }

  it('finds user:password, the first file with an entry winning', () => {
    const where = files(
      { auths: { 'localhost:5000': { auth: b64('alice:s3:cr:et') } } },
      { auths: { 'localhost:5000': { auth: b64('bob:x') }, 'https://index.docker.io/v1/': { auth: b64('hub:pw') } } },
    );
    expect(lookupCredentials(where, 'localhost:5000/a/b')?.credentials).toEqual({
      username: 'alice',
      password: 's3:cr:et',
    });
    const hub = lookupCredentials(where, 'docker.io/library/busybox');
    expect(hub?.credentials).toEqual({ username: 'hub', password: 'pw' });
    expect(hub?.file).toBe(where.docker);
    expect(lookupCredentials(where, 'elsewhere.io')).toBeUndefined();
  });

  it('uses the repository-specific entry over the registry one', () => {
    const where = files({ auths: { 'quay.io': { auth: b64('all:1') }, 'quay.io/team': { auth: b64('team:2') } } }, {});
    expect(lookupCredentials(where, 'quay.io/team/app')?.credentials).toEqual({ username: 'team', password: '2' });
    expect(lookupCredentials(where, 'quay.io/other/app')?.credentials).toEqual({ username: 'all', password: '1' });
  });

  it('returns an identity token', () => {
    const where = files({ auths: { 'r.io': { auth: b64('<token>:'), identitytoken: 'refresh-me' } } }, {});
    expect(lookupCredentials(where, 'r.io/x')?.credentials).toEqual({ identitytoken: 'refresh-me' });
  });

  it('says plainly that credential helpers are not supported', () => {
    const helper = files({}, { credHelpers: { 'gcr.io': 'gcloud' } });
    expect(() => lookupCredentials(helper, 'gcr.io/p/i')).toThrow(/docker-credential-gcloud.*not supported yet/);
    const store = files({}, { auths: { 'ghcr.io': {} }, credsStore: 'desktop' });
    expect(() => lookupCredentials(store, 'ghcr.io/o/i')).toThrow(/docker-credential-desktop/);
    // A store that does not mention the registry does not stand in the way of an anonymous pull.
    expect(lookupCredentials(store, 'quay.io/o/i')).toBeUndefined();
  });

  it('names the file when it is not JSON', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"auths": ');
    expect(() => readAuthFile(bad)).toThrow(HutchError);
    expect(() => readAuthFile(bad)).toThrow(bad);
    expect(readAuthFile(join(dir, 'missing.json'))).toEqual({});
  });
});

describe('writing', () => {
  it('creates the directory 0700 and the file 0600, atomically, keeping other fields', () => {
    const file = join(dir, 'run', 'containers', 'auth.json');
    storeCredentials(file, 'localhost:5000', { username: 'alice', password: 'pw' });
    expect(statSync(join(dir, 'run', 'containers')).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ auths: { 'localhost:5000': { auth: b64('alice:pw') } } });

    writeAuthFile(file, { ...readAuthFile(file), credHelpers: { 'x.io': 'pass' }, extra: 1 });
    storeCredentials(file, 'https://index.docker.io/v1/', { username: 'hub', password: 'h' });
    storeCredentials(file, 'localhost:5000', { username: 'alice', password: 'new' });
    const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(json).toEqual({
      auths: { 'localhost:5000': { auth: b64('alice:new') }, 'docker.io': { auth: b64('hub:h') } },
      credHelpers: { 'x.io': 'pass' },
      extra: 1,
    });
    // No temp files left behind.
    expect(readdirSync(join(dir, 'run', 'containers'))).toEqual(['auth.json']);
  });

  it('checks a fallback again once its directories exist, and writes nothing into one that is not private', () => {
    const base = join(dir, 'podman-run-1');
    const file = join(base, 'containers', 'auth.json');
    storeCredentials(file, 'localhost:5000', { username: 'alice', password: 'pw' }, base);
    expect(statSync(base).mode & 0o777).toBe(0o700);
    expect(statSync(join(base, 'containers')).mode & 0o777).toBe(0o700);
    // Made writable for others in the meantime (the check at lookup time passed): refused, file untouched.
    chmodSync(join(base, 'containers'), 0o777);
    const before = readFileSync(file, 'utf8');
    expect(() => storeCredentials(file, 'localhost:5000', { username: 'mallory', password: 'x' }, base)).toThrow(
      `registry credentials directory ${join(base, 'containers')} is not private to you: group or others may write to it (mode 0777)`,
    );
    expect(() => removeAllCredentials(file, base)).toThrow(HutchError);
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect(readdirSync(join(base, 'containers'))).toEqual(['auth.json']);
    // Without privateFrom (an explicit --authfile or REGISTRY_AUTH_FILE) the place is the user's choice.
    const other = join(dir, 'shared', 'auth.json');
    mkdirSync(join(dir, 'shared'), { mode: 0o777 });
    chmodSync(join(dir, 'shared'), 0o777);
    storeCredentials(other, 'localhost:5000', { username: 'alice', password: 'pw' });
    expect(existsSync(other)).toBe(true);
  });

  it('removes an entry and its legacy twin, and everything with --all', () => {
    const file = join(dir, 'auth.json');
    writeAuthFile(file, {
      auths: { 'https://index.docker.io/v1/': { auth: b64('a:b') }, 'docker.io': { auth: b64('a:b') }, 'q.io': {} },
    });
    expect(removeCredentials(file, 'docker.io')).toBe(true);
    expect(Object.keys(readAuthFile(file).auths ?? {})).toEqual(['q.io']);
    expect(removeCredentials(file, 'docker.io')).toBe(false);
    removeAllCredentials(file);
    expect(readAuthFile(file).auths).toEqual({});
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});
