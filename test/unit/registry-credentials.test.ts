import { chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HutchError } from '../../src/errors.js';
import {
  authLocations,
  defaultAuthFile,
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
