/**
 * Authorization for one registry: what to send with a request, learned from
 * the registry's `WWW-Authenticate` challenges.
 *
 * - Basic: the credentials go on every request once the registry asked for them.
 * - Bearer (the Docker token protocol, distribution's docs/spec/auth/token.md):
 *   a token for the request's scopes comes from the challenge's realm, with
 *   Basic credentials (GET realm?service=…&scope=…) or anonymously, or, for an
 *   identity token, by the OAuth2 refresh-token grant (POST, oauth.md). Tokens
 *   are cached per scope set until `expires_in`; one granted for `pull,push`
 *   serves later pulls too.
 *
 * Nothing here prints a secret: errors name the registry and the repository.
 */
import { HutchError } from '../../errors.js';
import { findChallenge, mergeScopes, parseChallenges, scopesCover, type Challenge } from './challenge.js';
import { parseErrorBody, RegistryError, responseError, type Subject } from './errors.js';

export type Credentials = { username: string; password: string } | { identitytoken: string };

/** One plain HTTP exchange (no auth, no redirects), with the client's TLS settings and retries. */
export type TokenExchange = (request: {
  url: URL;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: Buffer;
  subject: Subject;
}) => Promise<{ status: number; statusText: string | undefined; body: Buffer }>;

interface CachedToken {
  scopes: string[];
  header: string;
  /** Date.now() after which the token is no longer used. */
  expires: number;
}

/** Tokens without expires_in last 60 s (token.md); we stop using them a little early. */
const DEFAULT_LIFETIME_S = 60;
const SLACK_MS = 5_000;

export function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

export class Authenticator {
  private challenges: Challenge[] = [];
  private tokens: CachedToken[] = [];
  private readonly pending = new Map<string, Promise<CachedToken>>();

  constructor(
    private readonly registry: string,
    private readonly credentials: Credentials | undefined,
    private readonly exchange: TokenExchange,
    private readonly now: () => number = Date.now,
  ) {}

  get hasCredentials(): boolean {
    return this.credentials !== undefined;
  }

  /** Records the challenges of a 401 seen outside a request (the /v2/ probe). */
  observe(header: string | string[] | undefined): void {
    const challenges = parseChallenges(header);
    if (challenges.length > 0) this.challenges = challenges;
  }

  /** The Authorization header to send up front, when the registry's scheme is known already. */
  async authorization(scopes: string[], subject: Subject): Promise<string | undefined> {
    const bearer = findChallenge(this.challenges, 'bearer');
    if (bearer !== undefined) {
      const cached = this.cached(scopes);
      if (cached !== undefined) return cached.header;
      return (await this.token(bearer, scopes, subject)).header;
    }
    if (findChallenge(this.challenges, 'basic') !== undefined) return this.basic();
    return undefined;
  }

  /**
   * After a 401: the header to retry with, or undefined when there is nothing
   * better to send than what was sent (`sent`), so the 401 stands.
   */
  async retryAuthorization(
    header: string | string[] | undefined,
    scopes: string[],
    sent: string | undefined,
    subject: Subject,
  ): Promise<string | undefined> {
    this.observe(header);
    const bearer = findChallenge(this.challenges, 'bearer');
    let next: string | undefined;
    if (bearer !== undefined) {
      // The challenge may name scopes we did not think of (it says what this request needs).
      const wanted = mergeScopes(scopes, bearer.params.scope === undefined ? [] : [bearer.params.scope]);
      if (sent !== undefined) this.forget(sent);
      next = (await this.token(bearer, wanted, subject, true)).header;
    } else if (findChallenge(this.challenges, 'basic') !== undefined) {
      next = this.basic();
    }
    return next === sent ? undefined : next;
  }

  private basic(): string | undefined {
    const c = this.credentials;
    return c !== undefined && 'username' in c ? basicHeader(c.username, c.password) : undefined;
  }

  private cached(scopes: string[]): CachedToken | undefined {
    const now = this.now();
    this.tokens = this.tokens.filter((t) => t.expires > now);
    return this.tokens.find((t) => scopesCover(t.scopes, scopes));
  }

  private forget(header: string): void {
    this.tokens = this.tokens.filter((t) => t.header !== header);
  }

  private token(challenge: Challenge, scopes: string[], subject: Subject, fresh = false): Promise<CachedToken> {
    const merged = mergeScopes(scopes);
    const key = merged.join(' ');
    if (!fresh) {
      const cached = this.cached(merged);
      if (cached !== undefined) return Promise.resolve(cached);
    }
    let promise = this.pending.get(key);
    if (promise === undefined) {
      promise = this.fetchToken(challenge, merged, subject).finally(() => this.pending.delete(key));
      this.pending.set(key, promise);
    }
    return promise;
  }

  private async fetchToken(challenge: Challenge, scopes: string[], subject: Subject): Promise<CachedToken> {
    const realm = challenge.params.realm;
    let url: URL;
    try {
      url = new URL(realm ?? '');
    } catch {
      throw new HutchError(
        `registry ${this.registry} asked for a token without a usable realm (${JSON.stringify(realm ?? null)})`,
      );
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new HutchError(`registry ${this.registry} names a token realm that is not HTTP(S): ${url.protocol}`);
    }
    const service = challenge.params.service;
    const headers: Record<string, string> = { accept: 'application/json' };
    const c = this.credentials;
    let method: 'GET' | 'POST' = 'GET';
    let body: Buffer | undefined;
    if (c !== undefined && 'identitytoken' in c) {
      // oauth.md: the refresh-token grant, scopes separated by spaces.
      method = 'POST';
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: c.identitytoken,
        client_id: 'hutch',
      });
      if (service !== undefined) form.set('service', service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      body = Buffer.from(form.toString());
      headers['content-type'] = 'application/x-www-form-urlencoded';
    } else {
      if (service !== undefined) url.searchParams.set('service', service);
      for (const scope of scopes) url.searchParams.append('scope', scope);
      if (c !== undefined) {
        url.searchParams.set('account', c.username);
        headers.authorization = basicHeader(c.username, c.password);
      }
    }
    const res = await this.exchange({ url, method, headers, body, subject });
    if (res.status !== 200) {
      const facts = {
        status: res.status,
        statusText: res.statusText,
        body: parseErrorBody(res.body),
        withCredentials: c !== undefined,
      };
      // A token server refusing the credentials reads like the registry refusing them.
      if (res.status === 401 || res.status === 403) throw responseError(this.registry, subject, facts);
      const error = responseError(this.registry, subject, facts);
      throw new RegistryError(
        `the token server of registry ${this.registry} answered ${res.status}: ${error.message}`,
        { status: res.status, code: facts.body.code, registry: this.registry, what: error.what },
        { hint: error.hint },
      );
    }
    let answer: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      answer = JSON.parse(res.body.toString()) as typeof answer;
    } catch {
      throw new HutchError(`the token server of registry ${this.registry} sent something that is not JSON`);
    }
    const token =
      typeof answer.token === 'string' && answer.token !== ''
        ? answer.token
        : typeof answer.access_token === 'string'
          ? answer.access_token
          : '';
    if (token === '') throw new HutchError(`the token server of registry ${this.registry} sent no token`);
    const lifetime =
      typeof answer.expires_in === 'number' && answer.expires_in > 0 ? answer.expires_in : DEFAULT_LIFETIME_S;
    const entry: CachedToken = {
      scopes,
      header: `Bearer ${token}`,
      expires: this.now() + Math.max(lifetime * 1000 - SLACK_MS, 1000),
    };
    this.tokens.push(entry);
    return entry;
  }
}
