/**
 * A Docker token server for tests (distribution's docs/spec/auth/token.md):
 * checks Basic credentials (or grants anonymous pulls when asked to), and
 * issues RS256 JWTs signed with a key whose self-signed certificate (made
 * with the openssl CLI) is the registry's auth.token.rootcertbundle; the
 * certificate rides in the JWT header's x5c. Every request is recorded so
 * tests can check the scopes asked for.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface TokenServerOptions {
  service: string;
  issuer: string;
  /** name → password */
  users?: Record<string, string>;
  /** Grant `pull` to requests without credentials. */
  anonymousPull?: boolean;
  /** Refresh tokens (identity tokens) → the user they stand for, for the OAuth2 POST grant. */
  refreshTokens?: Record<string, string>;
  /** Lifetime of issued tokens, s (default 300). */
  expiresIn?: number;
}

export interface TokenRequest {
  method: string;
  /** The authenticated user, if any. */
  user: string | undefined;
  grantType: string | undefined;
  service: string | undefined;
  scopes: string[];
  /** What was granted, as scopes. */
  granted: string[];
  status: number;
}

export interface TokenServer {
  /** The realm: http://127.0.0.1:PORT/token */
  realm: string;
  /** The PEM certificate to use as rootcertbundle. */
  certificate: string;
  requests: TokenRequest[];
  stop(): Promise<void>;
}

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

function pemBody(pem: string): string {
  return pem
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('-----'))
    .join('');
}

function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  if (header === undefined || !header.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** A key and a self-signed certificate made by the openssl program, valid for two days. */
export function selfSignedCertificate(keyPath: string, certPath: string, subject: string): void {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-sha256',
      '-days',
      '2',
      '-subj',
      subject,
      '-keyout',
      keyPath,
      '-out',
      certPath,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
}

export async function startTokenServer(dir: string, options: TokenServerOptions): Promise<TokenServer> {
  const keyPath = join(dir, 'token.key');
  const certPath = join(dir, 'token.crt');
  selfSignedCertificate(keyPath, certPath, '/CN=hutch test token issuer');
  const key = createPrivateKey(readFileSync(keyPath));
  const x5c = pemBody(readFileSync(certPath, 'utf8'));
  const requests: TokenRequest[] = [];
  const users = options.users ?? {};

  function issue(user: string | undefined, scopes: string[]): { token: string; granted: string[] } {
    const access = scopes.flatMap((scope) => {
      const first = scope.indexOf(':');
      const last = scope.lastIndexOf(':');
      if (first <= 0 || last === first) return [];
      const type = scope.slice(0, first);
      const name = scope.slice(first + 1, last);
      const wanted = scope.slice(last + 1).split(',');
      const actions =
        user !== undefined ? wanted : options.anonymousPull === true ? wanted.filter((a) => a === 'pull') : [];
      return actions.length === 0 ? [] : [{ type, name, actions }];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c: [x5c] };
    const claims = {
      iss: options.issuer,
      sub: user ?? '',
      aud: options.service,
      exp: now + (options.expiresIn ?? 300),
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access,
    };
    const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(input), key);
    return {
      token: `${input}.${base64url(signature)}`,
      granted: access.map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`),
    };
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const record: TokenRequest = {
        method: req.method ?? '',
        user: undefined,
        grantType: undefined,
        service: undefined,
        scopes: [],
        granted: [],
        status: 0,
      };
      requests.push(record);
      const reply = (status: number, body: object) => {
        record.status = status;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (url.pathname !== '/token') return reply(404, { errors: [{ code: 'NOT_FOUND', message: 'no such path' }] });
      let user: string | undefined;
      if (req.method === 'POST') {
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        record.grantType = form.get('grant_type') ?? undefined;
        record.service = form.get('service') ?? undefined;
        record.scopes = (form.get('scope') ?? '').split(' ').filter((s) => s !== '');
        if (record.grantType === 'refresh_token') {
          user = options.refreshTokens?.[form.get('refresh_token') ?? ''];
        } else if (record.grantType === 'password') {
          const name = form.get('username') ?? '';
          user = users[name] !== undefined && users[name] === form.get('password') ? name : undefined;
        }
        if (user === undefined) {
          return reply(401, { errors: [{ code: 'UNAUTHORIZED', message: 'invalid grant' }] });
        }
        record.user = user;
        const { token, granted } = issue(user, record.scopes);
        record.granted = granted;
        return reply(200, {
          access_token: token,
          expires_in: options.expiresIn ?? 300,
          scope: record.scopes.join(' '),
        });
      }
      record.service = url.searchParams.get('service') ?? undefined;
      record.scopes = url.searchParams.getAll('scope');
      const basic = parseBasic(req.headers.authorization);
      if (basic !== undefined) {
        if (users[basic.user] === undefined || users[basic.user] !== basic.password) {
          return reply(401, { errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] });
        }
        user = basic.user;
      } else if (options.anonymousPull !== true) {
        return reply(401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] });
      }
      record.user = user;
      const { token, granted } = issue(user, record.scopes);
      record.granted = granted;
      return reply(200, { token, expires_in: options.expiresIn ?? 300, issued_at: new Date().toISOString() });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    certificate: certPath,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
