/**
 * The HTTP side of hutch's registry client (client.ts, blob-transfer.ts): one
 * registry's connections, the scheme probe, the auth handshake, retries and
 * redirects. What the requests mean is the callers' business.
 *
 * Contracts:
 * - Requests go over node:http(s) with one keep-alive agent per client and a
 *   bounded number of sockets. The scheme is found once per client by GET
 *   /v2/: HTTPS, verified unless tlsVerify is false; plain HTTP as a fallback
 *   when tlsVerify is false or the registry is on the loopback (docker's rule).
 * - 401 runs the auth flow (auth.ts) and retries once; 429 waits for
 *   Retry-After (3 attempts in all); 500/502/503/504 and dropped connections
 *   are retried twice with backoff; redirects are followed for reads, without
 *   Authorization when the host changes.
 * - A body read whole (readBody) is capped; manifests at 4 MiB.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { HutchError } from '../../errors.js';
import { version } from '../../package.js';
import { isDigest } from '../digest.js';
import { Authenticator, type Credentials } from './auth.js';
import {
  RegistryError,
  isTlsError,
  parseErrorBody,
  rateLimited,
  responseError,
  unreachable,
  type Subject,
} from './errors.js';

export interface RegistryClientOptions {
  /** `host[:port]` as in image references; docker.io talks to registry-1.docker.io. */
  registry: string;
  /** Verify HTTPS certificates (default true). False: unverified HTTPS, then plain HTTP. */
  tlsVerify?: boolean;
  credentials?: Credentials;
  userAgent?: string;
  /** Inactivity timeout of a request, in ms (default 60 s). */
  timeoutMs?: number;
  /** The first retry delay after a 5xx or a dropped connection, in ms (default 500), doubled each time. */
  retryDelayMs?: number;
  /** Sockets per host (default 8). */
  maxSockets?: number;
}

export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_ERROR_BODY = 64 * 1024;
const MAX_REDIRECTS = 10;
const MAX_ATTEMPTS = 3;
const MAX_RETRY_AFTER_S = 60;

export type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

export interface Body {
  length: number;
  /** Called for each attempt: a body can be sent again after a 401 or a 5xx. */
  open: () => Readable | Buffer;
}

export interface SendRequest {
  method: Method;
  /** A path below the registry (`/v2/…`) or an absolute URL (an upload location). */
  target: string | URL;
  headers?: Record<string, string>;
  body?: Body;
  scopes: string[];
  subject: Subject;
  /** Statuses handed back to the caller; any other becomes a RegistryError. */
  ok: number[];
  followRedirects?: boolean;
}

export interface Sent {
  res: IncomingMessage;
  /** The URL that answered (after redirects), to resolve relative Location and Link headers. */
  url: URL;
}

/** A failure of the body we were sending, not of the network: never retried, passed on as is. */
class SourceError extends Error {
  constructor(readonly source: unknown) {
    super('request body failed');
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function header(res: IncomingMessage, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function isLoopback(host: string): boolean {
  let hostname: string;
  try {
    hostname = new URL(`http://${host}`).hostname;
  } catch {
    return false;
  }
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** Retry-After as seconds: a number or an HTTP date (RFC 9110 §10.2.3). */
function retryAfterSeconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** A connection dropped (a keep-alive socket the server closed, say): worth another try. A timeout is not. */
function retryableNetworkError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED';
}

/** Does a GET /v2/ answer come from a registry (distribution-spec: 200 or 401, and docker's header)? */
function looksLikeRegistry(res: IncomingMessage): boolean {
  return (
    res.statusCode === 200 ||
    res.statusCode === 401 ||
    res.statusCode === 403 ||
    res.headers['docker-distribution-api-version'] !== undefined
  );
}

/** The URL of `rel="next"` in a Link header, resolved against the URL that sent it. */
export function nextLink(res: IncomingMessage, base: URL): URL | undefined {
  const link = header(res, 'link');
  if (link === undefined) return undefined;
  for (const part of link.split(/,(?=\s*<)/)) {
    const match = /<([^>]*)>\s*;(.*)/.exec(part);
    if (match !== null && /\brel\s*=\s*"?next"?/i.test(match[2] ?? '')) return new URL(match[1] ?? '', base);
  }
  return undefined;
}

const NAME = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^\w[\w.-]{0,127}$/;

/** Names and references go into URL paths: only what the distribution spec allows gets there. */
export function checkName(repository: string): string {
  if (!NAME.test(repository) || repository.length > 255) {
    throw new TypeError(`invalid repository name ${JSON.stringify(repository.slice(0, 300))}`);
  }
  return repository;
}

export function checkReference(reference: string): string {
  if (!TAG.test(reference) && !isDigest(reference)) {
    throw new TypeError(`invalid tag or digest ${JSON.stringify(reference.slice(0, 300))}`);
  }
  return reference;
}

/**
 * One registry's transport: agents, the probed base URL, the Authenticator.
 * send() is the one way a request goes out.
 */
export class RegistryTransport {
  readonly registry: string;
  /** The host requests go to (docker.io → registry-1.docker.io). */
  readonly host: string;
  private readonly tlsVerify: boolean;
  private readonly userAgent: string;
  private readonly timeoutMs: number;
  private readonly retryDelayMs: number;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly auth: Authenticator;
  private endpoint: Promise<URL> | undefined;

  constructor(options: RegistryClientOptions) {
    this.registry = options.registry;
    this.host = options.registry === 'docker.io' ? 'registry-1.docker.io' : options.registry;
    this.tlsVerify = options.tlsVerify ?? true;
    this.userAgent = options.userAgent ?? `hutch/${version}`;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.retryDelayMs = options.retryDelayMs ?? 500;
    const maxSockets = options.maxSockets ?? 8;
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
    this.httpsAgent = new https.Agent({
      keepAlive: true,
      maxSockets,
      maxFreeSockets: maxSockets,
      rejectUnauthorized: this.tlsVerify,
    });
    this.auth = new Authenticator(this.registry, options.credentials, (request) => this.tokenExchange(request));
  }

  /** Ends the client: destroys its sockets, idle ones and any still in use (their requests fail). */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  /** Reads a whole body, refusing more than `limit` bytes (by Content-Length first). */
  async readBody(res: IncomingMessage, limit: number, what: string): Promise<Buffer> {
    const announced = Number(header(res, 'content-length'));
    if (Number.isFinite(announced) && announced > limit) {
      res.destroy();
      throw new HutchError(`${what} is too large (${announced} bytes; the limit is ${limit})`, {
        hint: 'the registry sent something that is not a manifest, or a manifest no client accepts',
      });
    }
    const chunks: Buffer[] = [];
    let length = 0;
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        length += chunk.length;
        if (length > limit) {
          res.destroy();
          throw new HutchError(`${what} is too large (more than ${limit} bytes)`, {
            hint: 'the registry sent something that is not a manifest, or a manifest no client accepts',
          });
        }
        chunks.push(chunk);
      }
    } catch (error) {
      if (error instanceof HutchError) throw error;
      const code = (error as { code?: unknown }).code;
      throw new RegistryError(
        `${what}: the connection broke after ${length} bytes (${typeof code === 'string' ? code : (error as Error).message})`,
        { code: typeof code === 'string' ? code : undefined, registry: this.registry, what },
        { cause: error },
      );
    }
    return Buffer.concat(chunks, length);
  }

  // ---------------------------------------------------------------- transport

  private schemes(): ('https' | 'http')[] {
    return !this.tlsVerify || isLoopback(this.host) ? ['https', 'http'] : ['https'];
  }

  /** The registry's base URL, found once by GET /v2/ over HTTPS, then (if allowed) plain HTTP. */
  private base(): Promise<URL> {
    this.endpoint ??= this.probe().catch((error: unknown) => {
      this.endpoint = undefined;
      throw error;
    });
    return this.endpoint;
  }

  private async probe(): Promise<URL> {
    const failures: { url: URL; error: unknown }[] = [];
    const schemes = this.schemes();
    for (const scheme of schemes) {
      const url = new URL(`${scheme}://${this.host}/v2/`);
      const fallback = scheme !== schemes[0];
      for (let attempt = 1; ; attempt++) {
        try {
          const res = await this.exchange(url, 'GET', { 'user-agent': this.userAgent }, undefined);
          res.resume();
          // Over plain HTTP, a TLS server may answer too (Go's says 400 "HTTP request to an HTTPS
          // server"): only an answer that looks like a registry's counts.
          if (fallback && !looksLikeRegistry(res)) {
            failures.push({
              url,
              error: new Error(`answered ${res.statusCode} ${res.statusMessage ?? ''}, not as a registry`),
            });
            break;
          }
          if (res.statusCode === 401) this.auth.observe(res.headers['www-authenticate']);
          return new URL(`${scheme}://${this.host}/`);
        } catch (error) {
          if (!fallback && retryableNetworkError(error) && attempt < MAX_ATTEMPTS) {
            await sleep(this.retryDelayMs * 2 ** (attempt - 1));
            continue;
          }
          failures.push({ url, error });
          break;
        }
      }
    }
    // A certificate failure over HTTPS says more than the plain-HTTP attempt after it.
    const shown =
      failures.find((f) => isTlsError(f.error) && (f.error as { code?: unknown }).code !== 'EPROTO') ??
      failures[failures.length - 1];
    if (shown === undefined) throw new Error('no scheme to try');
    throw unreachable(this.registry, shown.url, shown.error);
  }

  private async tokenExchange(request: {
    url: URL;
    method: 'GET' | 'POST';
    headers: Record<string, string>;
    body?: Buffer;
    subject: Subject;
  }): Promise<{ status: number; statusText: string | undefined; body: Buffer }> {
    const headers: Record<string, string> = { ...request.headers, 'user-agent': this.userAgent };
    if (request.body !== undefined) headers['content-length'] = String(request.body.length);
    for (let attempt = 1; ; attempt++) {
      let res: IncomingMessage;
      try {
        res = await this.exchange(request.url, request.method, headers, request.body);
      } catch (error) {
        if (retryableNetworkError(error) && attempt < MAX_ATTEMPTS) {
          await sleep(this.retryDelayMs * 2 ** (attempt - 1));
          continue;
        }
        throw unreachable(
          this.registry,
          request.url,
          error instanceof SourceError ? error.source : error,
          'token server',
        );
      }
      const status = res.statusCode ?? 0;
      if ((status === 429 || [500, 502, 503, 504].includes(status)) && attempt < MAX_ATTEMPTS) {
        res.resume();
        const after = status === 429 ? retryAfterSeconds(header(res, 'retry-after')) : undefined;
        await sleep(
          after !== undefined ? Math.min(after, MAX_RETRY_AFTER_S) * 1000 : this.retryDelayMs * 2 ** (attempt - 1),
        );
        continue;
      }
      const limit = status === 200 ? MAX_MANIFEST_BYTES : MAX_ERROR_BODY;
      const body = await this.readBody(res, limit, `the token of registry ${this.registry}`).catch(() =>
        Buffer.alloc(0),
      );
      return { status, statusText: res.statusMessage, body };
    }
  }

  /**
   * One request with auth, retries and redirects. Resolves with the response
   * when its status is in `ok` (the caller reads or drains it); anything else
   * becomes a RegistryError.
   */
  async send(request: SendRequest): Promise<Sent> {
    const base = await this.base();
    let url = typeof request.target === 'string' ? new URL(request.target, base) : request.target;
    let method = request.method;
    let body = request.body;
    let authRetried = false;
    let rateLimitedAttempts = 0;
    let failedAttempts = 0;
    let redirects = 0;
    let forced: string | undefined;
    for (;;) {
      const headers: Record<string, string> = { ...request.headers, 'user-agent': this.userAgent };
      const toRegistry = url.host === base.host;
      const authorization = toRegistry
        ? (forced ?? (await this.auth.authorization(request.scopes, request.subject)))
        : undefined;
      if (authorization !== undefined) headers.authorization = authorization;
      if (body !== undefined) headers['content-length'] = String(body.length);
      let res: IncomingMessage;
      try {
        res = await this.exchange(url, method, headers, body?.open());
      } catch (error) {
        if (error instanceof SourceError) throw error.source;
        if (retryableNetworkError(error) && failedAttempts < MAX_ATTEMPTS - 1) {
          failedAttempts++;
          await sleep(this.retryDelayMs * 2 ** (failedAttempts - 1));
          continue;
        }
        throw unreachable(this.registry, url, error, toRegistry ? 'registry' : 'redirect target');
      }
      const status = res.statusCode ?? 0;
      if (request.ok.includes(status)) return { res, url };

      if (status === 401 && toRegistry && !authRetried) {
        authRetried = true;
        res.resume();
        const next = await this.auth.retryAuthorization(
          res.headers['www-authenticate'],
          request.scopes,
          authorization,
          request.subject,
        );
        if (next !== undefined) {
          forced = next;
          continue;
        }
        throw responseError(this.registry, request.subject, {
          status,
          statusText: res.statusMessage,
          body: { code: 'UNAUTHORIZED', message: undefined },
          withCredentials: this.auth.hasCredentials && authorization !== undefined,
        });
      }
      if (status === 429) {
        rateLimitedAttempts++;
        res.resume();
        const after = retryAfterSeconds(header(res, 'retry-after'));
        if (rateLimitedAttempts >= MAX_ATTEMPTS || (after !== undefined && after > MAX_RETRY_AFTER_S)) {
          throw rateLimited(this.registry, request.subject, rateLimitedAttempts, after);
        }
        await sleep(after !== undefined ? after * 1000 : this.retryDelayMs * 2 ** (rateLimitedAttempts - 1));
        continue;
      }
      if ([500, 502, 503, 504].includes(status) && failedAttempts < MAX_ATTEMPTS - 1) {
        failedAttempts++;
        res.resume();
        await sleep(this.retryDelayMs * 2 ** (failedAttempts - 1));
        continue;
      }
      if ([301, 302, 303, 307, 308].includes(status) && request.followRedirects === true) {
        const location = header(res, 'location');
        res.resume();
        if (location !== undefined && redirects < MAX_REDIRECTS) {
          redirects++;
          url = new URL(location, url);
          if (status === 303) {
            method = 'GET';
            body = undefined;
          }
          // A token is for the registry; it does not follow a redirect to another host.
          forced = undefined;
          continue;
        }
      }
      throw await this.errorOf(res, request.subject, this.auth.hasCredentials && authorization !== undefined);
    }
  }

  private async errorOf(res: IncomingMessage, subject: Subject, withCredentials: boolean): Promise<RegistryError> {
    const body = await this.readBody(res, MAX_ERROR_BODY, 'the error').catch(() => Buffer.alloc(0));
    return responseError(this.registry, subject, {
      status: res.statusCode ?? 0,
      statusText: res.statusMessage,
      body: parseErrorBody(body),
      withCredentials,
    });
  }

  /**
   * One HTTP exchange: resolves with the response once its headers arrive.
   * A body that fails rejects with SourceError; a body still being sent when
   * the response comes (a 401 before the upload was read) is abandoned.
   */
  private exchange(
    url: URL,
    method: Method,
    headers: Record<string, string>,
    body: Readable | Buffer | undefined,
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (!settled) {
          settled = true;
          fn();
        }
      };
      const https_ = url.protocol === 'https:';
      const req = (https_ ? https : http).request(url, {
        method,
        headers,
        agent: https_ ? this.httpsAgent : this.httpAgent,
      });
      req.setTimeout(this.timeoutMs, () => {
        req.destroy(Object.assign(new Error(`no answer for ${this.timeoutMs / 1000} s`), { code: 'ETIMEDOUT' }));
      });
      req.on('response', (res) => {
        if (body instanceof Readable && !body.readableEnded) {
          body.unpipe(req);
          body.destroy();
        }
        settle(() => resolve(res));
      });
      req.on('error', (error) => settle(() => reject(error)));
      if (body === undefined) {
        req.end();
      } else if (Buffer.isBuffer(body)) {
        req.end(body);
      } else {
        body.once('error', (error) => {
          req.destroy();
          settle(() => reject(new SourceError(error)));
        });
        body.pipe(req);
      }
    });
  }
}
