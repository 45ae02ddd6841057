/**
 * What a registry refused, as one line plus a hint. Messages name the registry
 * and what was asked (`library/busybox:latest`, `blob sha256:ab12… in team/app`),
 * never a credential or a token, and URLs are shown without their query (signed
 * blob redirects carry signatures there).
 */
import { HutchError } from '../../errors.js';

/** What a request was about, for messages. */
export interface Subject {
  kind: 'registry' | 'manifest' | 'blob' | 'upload' | 'tags' | 'referrers';
  repository?: string;
  /** A tag or a digest (manifests), a digest (blobs). */
  reference?: string;
}

export function describeSubject(subject: Subject): string {
  const name = subject.repository ?? '';
  switch (subject.kind) {
    case 'registry':
      return 'the registry';
    case 'manifest':
      if (subject.reference === undefined) return name;
      return subject.reference.includes(':') ? `${name}@${subject.reference}` : `${name}:${subject.reference}`;
    case 'blob':
      return `blob ${subject.reference ?? '?'} in ${name}`;
    case 'upload':
      return subject.reference === undefined
        ? `an upload to ${name}`
        : `the upload of blob ${subject.reference} to ${name}`;
    case 'tags':
      return `the tags of ${name}`;
    case 'referrers':
      return `the referrers of ${name}@${subject.reference ?? '?'}`;
  }
}

/**
 * A refusal or failure of a registry (an HTTP status), or a registry that could
 * not be reached (`code` is then the errno name, `status` undefined).
 */
export class RegistryError extends HutchError {
  /** The HTTP status, when the registry answered. */
  readonly status: number | undefined;
  /** `errors[0].code` of the registry's JSON answer (MANIFEST_UNKNOWN…), or the errno name (ECONNREFUSED…). */
  readonly code: string | undefined;
  readonly registry: string;
  /** What was asked, as described in the message. */
  readonly what: string;

  constructor(
    message: string,
    fields: { status?: number; code?: string; registry: string; what: string },
    options: { hint?: string; cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = 'RegistryError';
    this.status = fields.status;
    this.code = fields.code;
    this.registry = fields.registry;
    this.what = fields.what;
  }
}

/** The first error of a registry's JSON error body (distribution spec), if any. */
export interface RegistryErrorBody {
  code: string | undefined;
  message: string | undefined;
}

export function parseErrorBody(body: Buffer | string): RegistryErrorBody {
  try {
    const json = JSON.parse(body.toString()) as unknown;
    if (json !== null && typeof json === 'object') {
      const record = json as Record<string, unknown>;
      // distribution: {errors: [{code, message, detail}]}; some token servers: {details}, {error}.
      const first = Array.isArray(record.errors)
        ? (record.errors[0] as Record<string, unknown> | undefined)
        : undefined;
      const code = typeof first?.code === 'string' ? first.code : undefined;
      const message =
        typeof first?.message === 'string'
          ? first.message
          : typeof record.details === 'string'
            ? record.details
            : typeof record.error === 'string'
              ? record.error
              : undefined;
      return { code, message };
    }
  } catch {
    // not JSON: an HTML page or plain text says nothing we can rely on
  }
  return { code: undefined, message: undefined };
}

/** A URL as it may be shown: without credentials or query. */
export function displayUrl(url: URL | string): string {
  const u = new URL(url.toString());
  u.username = '';
  u.password = '';
  u.search = '';
  u.hash = '';
  return u.toString();
}

export interface ResponseFacts {
  status: number;
  statusText: string | undefined;
  body: RegistryErrorBody;
  /** Were credentials (or a token obtained with them) sent? */
  withCredentials: boolean;
}

function statusLabel(facts: ResponseFacts, fallback: string): string {
  return `${facts.status} ${facts.body.code ?? facts.statusText?.toUpperCase() ?? fallback}`;
}

const LOGIN_HINT = (registry: string) => `log in with: hutch login ${registry}`;

/** The error for an HTTP status the caller did not expect. */
export function responseError(registry: string, subject: Subject, facts: ResponseFacts): RegistryError {
  const what = describeSubject(subject);
  const fields = { status: facts.status, code: facts.body.code, registry, what };
  const forWhat = subject.kind === 'registry' ? '' : ` for ${subject.repository ?? what}`;
  switch (facts.status) {
    case 401:
      if (facts.withCredentials) {
        return new RegistryError(
          `registry ${registry} refused the credentials${forWhat} (${statusLabel(facts, 'UNAUTHORIZED')})`,
          fields,
          { hint: LOGIN_HINT(registry) },
        );
      }
      return new RegistryError(
        `registry ${registry} requires credentials${forWhat} (${statusLabel(facts, 'UNAUTHORIZED')})`,
        fields,
        { hint: LOGIN_HINT(registry) },
      );
    case 403:
      return new RegistryError(
        `registry ${registry} denied access to ${what} (${statusLabel(facts, 'DENIED')})`,
        fields,
        {
          hint: facts.withCredentials
            ? 'the account has no permission for this repository (pushing needs write access)'
            : LOGIN_HINT(registry),
        },
      );
    case 404:
      return notFound(registry, subject, facts);
    case 416:
      return new RegistryError(
        `registry ${registry} refused the range of ${what} (${statusLabel(facts, 'RANGE NOT SATISFIABLE')})`,
        fields,
      );
    default: {
      const detail = facts.body.message === undefined ? '' : `: ${facts.body.message}`;
      if (facts.status >= 500) {
        const status = [String(facts.status), facts.body.code ?? facts.statusText].filter(Boolean).join(' ');
        return new RegistryError(`registry ${registry} failed (${status}) on ${what}${detail}`, fields, {
          hint: 'the registry has a problem; try again later',
        });
      }
      return new RegistryError(
        `registry ${registry} refused ${what} (${statusLabel(facts, 'ERROR')})${detail}`,
        fields,
      );
    }
  }
}

function notFound(registry: string, subject: Subject, facts: ResponseFacts): RegistryError {
  const fields = { status: 404, code: facts.body.code, registry, what: describeSubject(subject) };
  const name = subject.repository ?? '';
  const label = statusLabel(facts, 'NOT FOUND');
  if (facts.body.code === 'NAME_UNKNOWN' || subject.kind === 'tags') {
    return new RegistryError(`repository ${name} not found in ${registry} (${label})`, fields, {
      hint: 'check the name; private repositories need hutch login',
    });
  }
  if (subject.kind === 'blob' || facts.body.code === 'BLOB_UNKNOWN' || facts.body.code === 'BLOB_UPLOAD_UNKNOWN') {
    const what = subject.kind === 'blob' ? `blob ${subject.reference ?? '?'}` : describeSubject(subject);
    return new RegistryError(`${what} not found in ${name} on ${registry} (${label})`, fields);
  }
  return new RegistryError(`${describeSubject(subject)} not found in ${registry} (${label})`, fields, {
    hint: subject.kind === 'manifest' ? 'check the name and the tag' : undefined,
  });
}

export function rateLimited(registry: string, subject: Subject, attempts: number, retryAfter?: number): RegistryError {
  const wait = retryAfter === undefined ? '' : `; it asks to wait ${retryAfter} s`;
  return new RegistryError(
    `registry ${registry} is rate limiting requests for ${describeSubject(subject)} (429 TOOMANYREQUESTS); gave up after ${attempts} attempt${attempts === 1 ? '' : 's'}${wait}`,
    { status: 429, code: 'TOOMANYREQUESTS', registry, what: describeSubject(subject) },
    { hint: 'wait and try again; logged-in users usually get a higher limit' },
  );
}

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|EPROTO$|ERR_OSSL)/;

export function isTlsError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && TLS_CODES.test(code);
}

/** The registry (or its token server, or a redirect target) could not be reached. */
export function unreachable(registry: string, url: URL | string, cause: unknown, role = 'registry'): RegistryError {
  const code = (cause as { code?: unknown } | undefined)?.code;
  const name = typeof code === 'string' ? code : undefined;
  const reason = (cause instanceof Error ? cause.message : String(cause)).split('\n')[0] ?? '';
  const detail = name === undefined ? reason : reason.includes(name) ? name : `${name} (${reason})`;
  const where = role === 'registry' ? `registry ${registry}` : `the ${role} of registry ${registry}`;
  const tls = isTlsError(cause);
  const plainHttp = name === 'EPROTO' || /wrong version number|packet length too long/.test(reason);
  const hint = tls
    ? plainHttp
      ? 'the server does not speak TLS; for a plain-HTTP registry use --tls-verify=false'
      : 'its TLS certificate is not trusted; for a registry with a self-signed certificate use --tls-verify=false'
    : name === 'ENOTFOUND' || name === 'EAI_AGAIN'
      ? 'check the registry name (DNS does not know it)'
      : 'is the registry running? for a plain-HTTP registry use --tls-verify=false';
  return new RegistryError(
    `cannot reach ${where} at ${displayUrl(url)}: ${detail}`,
    { code: name, registry, what: displayUrl(url) },
    { hint, cause },
  );
}
