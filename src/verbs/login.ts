/**
 * `hutch login` and `hutch logout`, as podman does them: credentials are
 * checked against the registry (GET /v2/ with them) before they are saved in
 * the auth file podman uses (src/image/registry/credentials.ts says which).
 * Prompts and messages go to the Terminal the caller gives.
 */
import type { Readable, Writable } from 'node:stream';
import { HutchError, withContext } from '../errors.js';
import { currentIdentity } from '../host/identity.js';
import { destinationAccess } from '../image/registries-conf/endpoints.js';
import { loadRegistriesConf } from '../image/registries-conf/load.js';
import { RegistryClient } from '../image/registry/client.js';
import {
  authLocations,
  credentialsIn,
  lookupCredentials,
  normalizeKey,
  readAuthFile,
  registryOfKey,
  removeAllCredentials,
  removeCredentials,
  storeCredentials,
  type AuthLocations,
  type Credentials,
} from '../image/registry/credentials.js';
import { RegistryError } from '../image/registry/errors.js';

export interface LoginOptions {
  /** `registry[:port]` or `registry/path`; default: the first unqualified-search registry (none: an error). */
  registry?: string;
  username?: string;
  password?: string;
  passwordStdin?: boolean;
  tlsVerify?: boolean;
  /** Print the user name of the stored login instead of logging in. */
  getLogin?: boolean;
  /** An auth file instead of the default (podman's --authfile). */
  authFile?: string;
}

export interface LogoutOptions {
  registry?: string;
  all?: boolean;
  authFile?: string;
}

/** Where login talks to the user: the caller's terminal (src/cli gives the process's). */
export interface Terminal {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
}

const REGISTRY =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:]+\])(?::\d{1,5})?$/;

/** The key a login target is stored under (`https://quay.io/` → quay.io), validated. */
function targetKey(input: string | undefined, env: NodeJS.ProcessEnv): string {
  // Without one, podman takes the first unqualified-search registry.
  const given = input ?? loadRegistriesConf(env).unqualifiedSearchRegistries[0];
  if (given === undefined) {
    throw new HutchError('no registries found in registries.conf, a registry must be provided', {
      hint: 'name it: hutch login REGISTRY[:PORT]',
    });
  }
  const key = normalizeKey(given);
  const registry = registryOfKey(key);
  if (!REGISTRY.test(registry)) {
    throw new HutchError(`invalid registry ${JSON.stringify(input)}`, {
      hint: 'name a registry as host[:port], optionally with a path: hutch login localhost:5000',
    });
  }
  return key;
}

function locations(env: NodeJS.ProcessEnv, authFile: string | undefined): AuthLocations {
  const identity = currentIdentity(env);
  return authLocations({ env, hostUid: identity.uid, root: identity.root }, authFile);
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Prompts on a terminal in raw mode: echoing (a user name) or not (a
 * password). Bytes typed ahead (a pasted "user\rpassword\r") are kept for the
 * next prompt rather than lost.
 */
class Prompter {
  private pending = '';
  private afterCr = false;

  constructor(private readonly term: Terminal) {}

  async ask(question: string, echo: boolean): Promise<string> {
    const { stdin, stdout } = this.term;
    stdout.write(question);
    stdin.setRawMode?.(true);
    try {
      return await new Promise<string>((resolve, reject) => {
        let value = '';
        const finish = (fn: () => void) => {
          stdin.off('data', onData);
          stdin.off('end', onEnd);
          stdin.pause();
          fn();
        };
        const onEnd = () => finish(() => reject(new HutchError('login interrupted: stdin closed')));
        const consume = (): boolean => {
          const chars = [...this.pending];
          for (let i = 0; i < chars.length; i++) {
            const ch = chars[i] as string;
            const skip = this.afterCr && ch === '\n';
            this.afterCr = ch === '\r';
            if (skip) continue;
            if (ch === '\r' || ch === '\n') {
              this.pending = chars.slice(i + 1).join('');
              finish(() => resolve(value));
              return true;
            }
            if (ch === '\u0003') {
              finish(() => reject(new HutchError('login interrupted')));
              return true;
            }
            if (ch === '\u0004' && value === '') {
              onEnd();
              return true;
            }
            if (ch === '\u007f' || ch === '\b') {
              if (value !== '' && echo) stdout.write('\b \b');
              value = [...value].slice(0, -1).join('');
            } else if (ch >= ' ') {
              value += ch;
              if (echo) stdout.write(ch);
            }
          }
          this.pending = '';
          return false;
        };
        const onData = (data: Buffer | string) => {
          this.pending += data.toString();
          consume();
        };
        if (consume()) return;
        stdin.on('data', onData);
        stdin.once('end', onEnd);
        stdin.resume();
      });
    } finally {
      stdin.setRawMode?.(false);
      stdout.write('\n');
    }
  }
}

/** Checks credentials against the registry: resolves if it accepts them. */
async function verify(registry: string, credentials: Credentials, tlsVerify: boolean): Promise<void> {
  const client = new RegistryClient({ registry, tlsVerify, credentials });
  try {
    await client.ping();
  } catch (error) {
    if (error instanceof RegistryError && error.status === 401) {
      const who = 'username' in credentials ? ` of user ${credentials.username}` : '';
      throw new HutchError(`registry ${registry} refused the credentials${who} (401 ${error.code ?? 'UNAUTHORIZED'})`, {
        hint: 'check the user name and the password',
        cause: error,
      });
    }
    throw error;
  } finally {
    client.close();
  }
}

/**
 * Logs in: takes the credentials from the options, stdin (--password-stdin) or
 * prompts on a terminal, checks them with the registry and saves them. Writes
 * podman's messages to the terminal.
 */
export async function login(options: LoginOptions, term: Terminal): Promise<void> {
  const { env } = term;
  const key = targetKey(options.registry, env);
  const registry = registryOfKey(key);
  const where = locations(env, options.authFile);

  if (options.getLogin === true) {
    const found = lookupCredentials(where, key);
    if (found === undefined) throw new HutchError(`not logged into ${key}`);
    term.stdout.write(`${'username' in found.credentials ? found.credentials.username : '<token>'}\n`);
    return;
  }
  // registries.conf's [[registry]] for the key: blocked refuses, insecure allows plain HTTP.
  let insecure: boolean;
  try {
    ({ insecure } = destinationAccess(loadRegistriesConf(env), key));
  } catch (error) {
    throw withContext('login', `authenticating creds for ${JSON.stringify(key)}`, error);
  }
  const tlsVerify = (options.tlsVerify ?? true) && !insecure;
  if (options.passwordStdin === true && options.password !== undefined) {
    throw new HutchError('--password and --password-stdin cannot be used together');
  }
  if (options.passwordStdin === true && options.username === undefined) {
    throw new HutchError('--password-stdin needs --username', {
      hint: `echo PASSWORD | hutch login -u USER --password-stdin ${key}`,
    });
  }
  if (options.password !== undefined) {
    term.stderr.write('WARNING! Using --password on the command line is insecure. Use --password-stdin.\n');
  }

  let username = options.username;
  let password = options.password;
  if (options.passwordStdin === true) password = (await readAll(term.stdin)).replace(/\r?\n$/, '');

  if (username === undefined && password === undefined) {
    // Stored credentials that still work need no prompt (podman does the same).
    const existing = lookupCredentials(where, key);
    if (existing !== undefined) {
      term.stdout.write(`Authenticating with existing credentials for ${key}\n`);
      try {
        await verify(registry, existing.credentials, tlsVerify);
        term.stdout.write(`Existing credentials are valid. Already logged in to ${key}\n`);
        return;
      } catch (error) {
        if (!(error instanceof HutchError) || !(error.cause instanceof RegistryError)) throw error;
        term.stdout.write('Existing credentials are invalid, please enter valid username and password\n');
      }
    }
  }

  if (username === undefined || password === undefined) {
    if (term.stdin.isTTY !== true) {
      throw new HutchError(
        `cannot ask for the ${username === undefined ? 'user name' : 'password'}: stdin is not a terminal`,
        {
          hint: `pass them: echo PASSWORD | hutch login -u USER --password-stdin ${key}`,
        },
      );
    }
    const prompter = new Prompter(term);
    if (username === undefined) {
      const stored = lookupCredentials(where, key)?.credentials;
      const suggestion = stored !== undefined && 'username' in stored ? stored.username : undefined;
      const answer = (
        await prompter.ask(suggestion === undefined ? 'Username: ' : `Username (${suggestion}): `, true)
      ).trim();
      username = answer === '' ? suggestion : answer;
      if (username === undefined || username === '') throw new HutchError('a user name is needed to log in');
    }
    password ??= await prompter.ask('Password: ', false);
  }
  if (password === '') throw new HutchError('a password is needed to log in');

  const credentials = { username, password };
  await verify(registry, credentials, tlsVerify);
  storeCredentials(where.write, key, credentials, where.privateFrom);
  term.stdout.write('Login Succeeded!\n');
}

/** Removes the stored login of a registry (or of all). */
export async function logout(options: LogoutOptions, term: Terminal): Promise<void> {
  const { env } = term;
  const where = locations(env, options.authFile);
  if (options.all === true) {
    if (options.registry !== undefined) throw new HutchError('--all and a registry cannot be used together');
    removeAllCredentials(where.write, where.privateFrom);
    term.stdout.write('Removed login credentials for all registries\n');
    return;
  }
  const key = targetKey(options.registry, env);
  if (removeCredentials(where.write, key, where.privateFrom)) {
    term.stdout.write(`Removed login credentials for ${key}\n`);
    return;
  }
  let docker;
  try {
    docker = credentialsIn(readAuthFile(where.docker), where.docker, key);
  } catch {
    docker = undefined;
  }
  if (docker !== undefined && options.authFile === undefined) {
    throw new HutchError(`not logged into ${key} with hutch: the credentials are docker's (${where.docker})`, {
      hint: `docker logout ${key}`,
    });
  }
  throw new HutchError(`not logged into ${key}`);
}
