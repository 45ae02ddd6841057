// `hutch login` and `hutch logout` as built (bin/hutch), against a registry
// with htpasswd auth run as this user on 127.0.0.1.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorLines, hutch, sandbox, type Sandbox } from '../helpers/hutch.js';
import { needRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { hutchBin, otherUserStage, requires } from '../helpers/requires.js';

const built = requires('built');
const need = needRegistry('htpasswd');
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe.skipIf(built.skip || need.skip)('hutch login and logout', () => {
  let registry: TestRegistry;
  let box: Sandbox;
  let authFile: string;

  beforeAll(async () => {
    registry = await startRegistry({ auth: 'htpasswd', users: { alice: 'wonderland', bob: 'builder' } });
    box = sandbox();
    delete box.env.REGISTRY_AUTH_FILE;
    authFile = join(box.env.XDG_RUNTIME_DIR as string, 'containers', 'auth.json');
  });
  afterAll(async () => {
    box?.dispose();
    await registry?.stop();
  });

  const run = (args: string[], input?: string, env: NodeJS.ProcessEnv = box.env) =>
    hutch(args, { env, input: input ?? '', cwd: '/' });

  it('logs in with --password-stdin and keeps the credentials 0600 in $XDG_RUNTIME_DIR/containers', () => {
    const result = run(['login', '-u', 'alice', '--password-stdin', registry.host], 'wonderland\n');
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('Login Succeeded!\n');
    expect(result.status).toBe(0);
    expect(JSON.parse(readFileSync(authFile, 'utf8'))).toEqual({
      auths: { [registry.host]: { auth: b64('alice:wonderland') } },
    });
    expect(statSync(authFile).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(authFile)).mode & 0o777).toBe(0o700);
    const who = run(['login', '--get-login', registry.host]);
    expect(who.stdout).toBe('alice\n');
    expect(who.status).toBe(0);
  });

  it('checks stored credentials instead of asking again', () => {
    const result = run(['login', registry.host]);
    expect(result.stdout).toBe(
      `Authenticating with existing credentials for ${registry.host}\nExisting credentials are valid. Already logged in to ${registry.host}\n`,
    );
    expect(result.status).toBe(0);
  });

  it('refuses a wrong password with one Error: line, exit 125, and keeps the file as it was', () => {
    const before = readFileSync(authFile, 'utf8');
    const result = run(['login', '-u', 'bob', '--password-stdin', registry.host], 'wrong\n');
    expect(result.status).toBe(125);
    expect(result.stdout).toBe('');
    expect(errorLines(result.stderr)).toEqual([
      `Error: registry ${registry.host} refused the credentials of user bob (401 UNAUTHORIZED)`,
    ]);
    expect(result.stderr).toContain('hint: check the user name and the password');
    expect(result.stderr).not.toContain('wrong');
    expect(readFileSync(authFile, 'utf8')).toBe(before);
  });

  it('does not prompt without a terminal', () => {
    const result = run(['login', '-u', 'bob', registry.host]);
    expect(result.status).toBe(125);
    expect(errorLines(result.stderr)).toEqual(['Error: cannot ask for the password: stdin is not a terminal']);
  });

  it('adds a second login next to the first, with -p (and a warning)', () => {
    const env = { ...box.env };
    const result = run(['login', '-u', 'bob', '-p', 'builder', '--tls-verify=false', `${registry.host}/team`], '', env);
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/WARNING! Using --password on the command line is insecure/);
    const auths = (JSON.parse(readFileSync(authFile, 'utf8')) as { auths: Record<string, unknown> }).auths;
    expect(Object.keys(auths).sort()).toEqual([registry.host, `${registry.host}/team`]);
    expect(run(['login', '--get-login', `${registry.host}/team/app`]).stdout).toBe('bob\n');
    expect(run(['login', '--get-login', `${registry.host}/other/app`]).stdout).toBe('alice\n');
  });

  it('logs out, and says so when not logged in', () => {
    const result = run(['logout', registry.host]);
    expect(result.stdout).toBe(`Removed login credentials for ${registry.host}\n`);
    expect(result.status).toBe(0);
    const auths = (JSON.parse(readFileSync(authFile, 'utf8')) as { auths: Record<string, unknown> }).auths;
    expect(Object.keys(auths)).toEqual([`${registry.host}/team`]);
    const again = run(['logout', registry.host]);
    expect(again.status).toBe(125);
    expect(errorLines(again.stderr)).toEqual([`Error: not logged into ${registry.host}`]);
    const all = run(['logout', '--all']);
    expect(all.stdout).toBe('Removed login credentials for all registries\n');
    expect(JSON.parse(readFileSync(authFile, 'utf8'))).toEqual({ auths: {} });
    const none = run(['login', '--get-login', registry.host]);
    expect(none.status).toBe(125);
    expect(errorLines(none.stderr)).toEqual([`Error: not logged into ${registry.host}`]);
  });

  it('uses $REGISTRY_AUTH_FILE, and points at docker for docker-made logins', () => {
    const file = join(box.runtime, 'elsewhere', 'auth.json');
    const env = { ...box.env, REGISTRY_AUTH_FILE: file };
    expect(run(['login', '-u', 'alice', '--password-stdin', registry.host], 'wonderland', env).status).toBe(0);
    expect(Object.keys((JSON.parse(readFileSync(file, 'utf8')) as { auths: object }).auths)).toEqual([registry.host]);
    expect(run(['logout', registry.host], '', env).status).toBe(0);

    const home = join(box.runtime, 'home');
    mkdirSync(join(home, '.docker'), { recursive: true });
    writeFileSync(
      join(home, '.docker', 'config.json'),
      JSON.stringify({ auths: { [`http://${registry.host}/v1/`]: { auth: b64('alice:wonderland') } } }),
    );
    const dockerEnv = { ...box.env, HOME: home };
    // Docker's credentials are used (login finds them valid) but are not hutch's to remove.
    expect(run(['login', registry.host], '', dockerEnv).stdout).toMatch(/Already logged in/);
    const out = run(['logout', registry.host], '', dockerEnv);
    expect(out.status).toBe(125);
    expect(errorLines(out.stderr)).toEqual([
      `Error: not logged into ${registry.host} with hutch: the credentials are docker's (${join(home, '.docker', 'config.json')})`,
    ]);
  });
});

/**
 * Where there is no session directory (cron, CI, su: no XDG_RUNTIME_DIR, no
 * /run/user/UID), podman keeps credentials in $TMPDIR/podman-run-UID, shared
 * with every local user. A second user (hutch-other, made by scripts/provision)
 * made such directories first, open to all, with an auth.json of theirs in
 * them. hutch runs as the test user in a mount namespace where /run/user and
 * /tmp are empty (what cron gives), with TMPDIR and HOME pointed at them.
 */
const other = requires('otherUser');

describe.skipIf(built.skip || need.skip || other.skip)("hutch login where another user's directories are", () => {
  let registry: TestRegistry;
  let home: string;
  const uid = process.getuid?.() as number;
  const gid = process.getgid?.() as number;
  const stage = otherUserStage();
  const squatted = join(stage, 'tmp', `podman-run-${uid}`, 'containers', 'auth.json');
  const nested = join(stage, 'nested', `podman-run-${uid}`, 'containers', 'auth.json');

  beforeAll(async () => {
    registry = await startRegistry({ auth: 'htpasswd', users: { alice: 'wonderland', mallory: 'evil' } });
    // Visible in the namespace (its /tmp is a new tmpfs); the test user's own.
    home = mkdtempSync('/var/tmp/hutch-login-home-');
    // The other user's account, as they would plant it (the file is theirs, left writable to all).
    const planted = JSON.stringify({ auths: { [registry.host]: { auth: b64('mallory:evil') } } });
    writeFileSync(squatted, planted);
    writeFileSync(nested, planted);
  });
  afterAll(async () => {
    rmSync(home, { recursive: true, force: true });
    await registry?.stop();
  });

  /** hutch as a cron job would run it: no XDG_RUNTIME_DIR, nothing in /run/user, an empty /tmp. */
  const cron = (args: string[], env: { TMPDIR: string; HOME: string }, input = '') => {
    const inner = 'mount -t tmpfs tmpfs /run/user && mount -t tmpfs tmpfs /tmp && exec unshare --user "$@"';
    return spawnSync(
      'unshare',
      ['--user', '--map-root-user', '--mount', '--', 'sh', '-c', inner, 'sh'].concat([
        `--map-user=${uid}`,
        `--map-group=${gid}`,
        '--',
        hutchBin,
        ...args,
      ]),
      {
        encoding: 'utf8',
        input,
        cwd: '/',
        env: {
          PATH: process.env.PATH,
          USER: process.env.USER,
          LOGNAME: process.env.LOGNAME,
          HUTCH_HINTS: process.env.HUTCH_HINTS,
          ...env,
        },
      },
    );
  };
  const entries = (file: string) => Object.keys((JSON.parse(readFileSync(file, 'utf8')) as { auths: object }).auths);

  it('is really another user: the planted files and directories belong to hutch-other', () => {
    for (const path of [dirname(dirname(squatted)), dirname(squatted), squatted, dirname(nested), nested]) {
      expect(statSync(path).uid, path).not.toBe(uid);
    }
    expect(statSync(dirname(dirname(nested))).uid).toBe(uid);
  });

  it("uses podman's $TMPDIR/podman-run-UID when it is the user's own", () => {
    const tmp = mkdtempSync(join(home, 'tmp-'));
    const env = { TMPDIR: tmp, HOME: home };
    const result = cron(['login', '-u', 'alice', '--password-stdin', registry.host], env, 'wonderland\n');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const file = join(tmp, `podman-run-${uid}`, 'containers', 'auth.json');
    expect(entries(file)).toEqual([registry.host]);
    expect(statSync(dirname(file)).mode & 0o777).toBe(0o700);
    expect(statSync(dirname(dirname(file))).mode & 0o777).toBe(0o700);
    expect(cron(['login', '--get-login', registry.host], env).stdout).toBe('alice\n');
  });

  for (const [what, tmp, planted] of [
    ['podman-run-UID is theirs', join(stage, 'tmp'), squatted],
    ["podman-run-UID is the user's, containers/ in it theirs", join(stage, 'nested'), nested],
  ] as const) {
    it(`${what}: never reads their auth.json nor writes into it; keeps the login in $HOME/rundir as podman does`, () => {
      const env = { TMPDIR: tmp, HOME: home };
      rmSync(join(home, 'rundir'), { recursive: true, force: true });
      const before = readFileSync(planted, 'utf8');
      // Their credentials are not the user's: no login to show, none to check with the registry.
      const who = cron(['login', '--get-login', registry.host], env);
      expect(errorLines(who.stderr)).toEqual([`Error: not logged into ${registry.host}`]);
      expect(who.status).toBe(125);
      const silent = cron(['login', registry.host], env);
      expect(silent.stdout).not.toMatch(/Already logged in/);
      expect(errorLines(silent.stderr)).toEqual(['Error: cannot ask for the user name: stdin is not a terminal']);
      // The user's own login goes to a private place, and is the one used after.
      const login = cron(['login', '-u', 'alice', '--password-stdin', registry.host], env, 'wonderland\n');
      expect(login.stderr).toBe('');
      expect(login.status).toBe(0);
      const own = join(home, 'rundir', 'containers', 'auth.json');
      expect(entries(own)).toEqual([registry.host]);
      expect(statSync(own).mode & 0o777).toBe(0o600);
      expect(statSync(dirname(own)).mode & 0o777).toBe(0o700);
      expect(cron(['login', '--get-login', registry.host], env).stdout).toBe('alice\n');
      expect(cron(['logout', registry.host], env).status).toBe(0);
      expect(entries(own)).toEqual([]);
      // Their file is as they left it.
      expect(readFileSync(planted, 'utf8')).toBe(before);
      expect(statSync(planted).uid).not.toBe(uid);
    });
  }

  it('refuses with one line and exit 125 when $HOME/rundir is theirs too, saying what to set', () => {
    const env = { TMPDIR: join(stage, 'tmp'), HOME: join(stage, 'home') };
    const rundir = join(stage, 'home', 'rundir');
    for (const args of [
      ['login', '-u', 'alice', '--password-stdin', registry.host],
      ['login', '--get-login', registry.host],
    ]) {
      const result = cron(args, env, 'wonderland\n');
      expect(result.status, result.stderr).toBe(125);
      // In the test's user namespace the other user's uid is not mapped: the kernel shows it as 65534.
      expect(errorLines(result.stderr)).toEqual([
        `Error: registry credentials directory ${rundir} is not private to you: it belongs to another user (uid 65534 here: an id this user namespace does not map)`,
      ]);
      expect(result.stderr).toContain(
        `hint: ${dirname(dirname(squatted))} is not private to you: it belongs to another user`,
      );
      expect(result.stderr).toMatch(/set REGISTRY_AUTH_FILE to a file in a directory only you can write/);
    }
    // REGISTRY_AUTH_FILE, as the hint says, works.
    const file = join(home, 'explicit', 'auth.json');
    const ok = cron(
      ['login', '-u', 'alice', '--password-stdin', registry.host],
      { ...env, REGISTRY_AUTH_FILE: file } as never,
      'wonderland\n',
    );
    expect(ok.status, ok.stderr).toBe(0);
    expect(entries(file)).toEqual([registry.host]);
  });
});
