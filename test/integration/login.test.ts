// `hutch login` and `hutch logout` as built (bin/hutch), against a registry
// with htpasswd auth run as this user on 127.0.0.1.
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorLines, hutch, sandbox, type Sandbox } from '../helpers/hutch.js';
import { needRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { requires } from '../helpers/requires.js';

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
