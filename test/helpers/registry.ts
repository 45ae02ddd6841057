/**
 * A real registry for tests: Debian's docker-registry (CNCF distribution 2.8)
 * run as the current user on 127.0.0.1, with filesystem storage in a temp
 * directory, and optionally htpasswd or token auth (token-server.ts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTokenServer, type TokenServer } from './token-server.js';

export interface RegistryOptions {
  auth?: 'htpasswd' | 'token';
  /** name → password (htpasswd or token auth). */
  users?: Record<string, string>;
  /** Token auth: grant pull without credentials. */
  anonymousPull?: boolean;
  /** Token auth: identity tokens → user, for the OAuth2 refresh-token grant. */
  refreshTokens?: Record<string, string>;
}

export interface TestRegistry {
  /** 127.0.0.1:PORT, as a registry is named in references. */
  host: string;
  /** http://127.0.0.1:PORT */
  url: string;
  /** The temp directory (config, storage, htpasswd, keys). */
  dir: string;
  tokenServer: TokenServer | undefined;
  /** What the registry wrote on stderr so far. */
  stderr(): string;
  stop(): Promise<void>;
}

export const TOKEN_SERVICE = 'hutch-test-registry';
export const TOKEN_ISSUER = 'hutch-test-issuer';

/** Why no registry can run here, or undefined. */
export function registryMissing(): string | undefined {
  const which = spawnSync('sh', ['-c', 'command -v docker-registry'], { encoding: 'utf8' });
  if (which.status !== 0) return 'docker-registry is not installed (Debian package docker-registry)';
  return undefined;
}

/**
 * For a suite that needs a registry: skip with the reason locally; in CI
 * (CI=true) a missing registry is an error, as requires() does.
 */
export function needRegistry(...tools: ('htpasswd' | 'openssl')[]): { skip: boolean; reason: string | undefined } {
  const reasons = [registryMissing()];
  for (const tool of tools) {
    const which = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
    if (which.status !== 0) reasons.push(`${tool} is not installed`);
  }
  const reason = reasons.filter((r) => r !== undefined).join('; ');
  if (reason === '') return { skip: false, reason: undefined };
  if (process.env.CI === 'true') throw new Error(`missing prerequisite in CI: ${reason}`);
  console.warn(`skipping: ${reason}`);
  return { skip: true, reason };
}

/** A port that was free a moment ago (bound to 0 and closed). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function htpasswdLines(users: Record<string, string>): string {
  return Object.entries(users)
    .map(([name, password]) => {
      const result = spawnSync('htpasswd', ['-Bbn', name, password], { encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`htpasswd failed: ${result.stderr || String(result.error)}`);
      return result.stdout.trim();
    })
    .join('\n');
}

function config(dir: string, port: number, auth: string): string {
  return `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${join(dir, 'data')}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:${port}
  secret: hutch-test-secret
${auth}`;
}

/** Resolves when GET /v2/ gets any HTTP answer. */
function answers(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(`${url}/v2/`, { agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

async function launch(dir: string, port: number, auth: string): Promise<{ child: ChildProcess; output: () => string }> {
  const file = join(dir, `config-${port}.yml`);
  writeFileSync(file, config(dir, port, auth));
  const child = spawn('docker-registry', ['serve', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => {
    if (output.length < 64 * 1024) output += chunk.toString('utf8');
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = `exited with ${signal ?? code}`));
  child.once('error', (error) => (exited = `could not start: ${error.message}`));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`docker-registry ${exited}: ${output.trim()}`);
    if (await answers(url)) return { child, output: () => output };
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`docker-registry did not answer on ${url}/v2/ within 10 s; its output: ${output.trim() || '(none)'}`);
}

export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'hutch-registry-'));
  chmodSync(dir, 0o700);
  let tokenServer: TokenServer | undefined;
  try {
    let auth = '';
    if (options.auth === 'htpasswd') {
      const file = join(dir, 'htpasswd');
      writeFileSync(file, `${htpasswdLines(options.users ?? {})}\n`);
      auth = `auth:\n  htpasswd:\n    realm: hutch-test\n    path: ${file}\n`;
    } else if (options.auth === 'token') {
      tokenServer = await startTokenServer(dir, {
        service: TOKEN_SERVICE,
        issuer: TOKEN_ISSUER,
        users: options.users,
        anonymousPull: options.anonymousPull,
        refreshTokens: options.refreshTokens,
      });
      auth =
        `auth:\n  token:\n    realm: ${tokenServer.realm}\n    service: ${TOKEN_SERVICE}\n` +
        `    issuer: ${TOKEN_ISSUER}\n    rootcertbundle: ${tokenServer.certificate}\n`;
    }
    // The port may be taken between finding it and the registry binding it: try again then.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        const { child, output } = await launch(dir, port, auth);
        const token = tokenServer;
        return {
          host: `127.0.0.1:${port}`,
          url: `http://127.0.0.1:${port}`,
          dir,
          tokenServer,
          stderr: output,
          async stop() {
            if (child.exitCode === null && child.signalCode === null) {
              const exited = new Promise((resolve) => child.once('exit', resolve));
              child.kill('SIGTERM');
              const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
              await exited;
              clearTimeout(timer);
            }
            await token?.stop();
            rmSync(dir, { recursive: true, force: true });
          },
        };
      } catch (error) {
        if (attempt < 3 && /address already in use/.test(String(error))) continue;
        throw error;
      }
    }
  } catch (error) {
    await tokenServer?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
