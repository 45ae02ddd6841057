/**
 * `WWW-Authenticate` challenges (RFC 7235 §4.1, §2.1) and the resource scopes
 * of the Docker token protocol (`repository:team/app:pull,push`). Pure.
 *
 *   challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 *   auth-param = token BWS "=" BWS ( token / quoted-string )
 *
 * Several challenges may share one header, separated by commas like the
 * parameters themselves: a token followed by whitespace and another token (not
 * by "=") starts the next challenge.
 */

export interface Challenge {
  /** Lowercase: `bearer`, `basic`. */
  scheme: string;
  /** Parameter names lowercased, values unquoted. */
  params: Record<string, string>;
  token68?: string;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68_CHAR = /[-._~+/0-9A-Za-z]/;

class Cursor {
  pos = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string {
    return this.text[this.pos] ?? '';
  }

  skipSpaces(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos++;
  }

  skipSpacesAndCommas(): void {
    while (this.peek() === ' ' || this.peek() === '\t' || this.peek() === ',') this.pos++;
  }

  token(): string {
    const start = this.pos;
    while (!this.done && TCHAR.test(this.peek())) this.pos++;
    return this.text.slice(start, this.pos);
  }

  /** An unquoted value. RFC 7235 allows a token only; we take up to the next comma or space, as browsers do. */
  bare(): string {
    const start = this.pos;
    while (!this.done && !/[\s,]/.test(this.peek())) this.pos++;
    return this.text.slice(start, this.pos);
  }

  quoted(): string {
    // At the opening quote.
    this.pos++;
    let value = '';
    while (!this.done) {
      const c = this.peek();
      this.pos++;
      if (c === '"') return value;
      if (c === '\\' && !this.done) {
        value += this.peek();
        this.pos++;
      } else {
        value += c;
      }
    }
    return value; // unterminated: take what there is
  }
}

/** Parses one or more WWW-Authenticate header values into challenges; junk is skipped, never thrown. */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const values = Array.isArray(header) ? header : [header];
  return values.flatMap(parseOne);
}

function parseOne(text: string): Challenge[] {
  const challenges: Challenge[] = [];
  const c = new Cursor(text);
  while (true) {
    c.skipSpacesAndCommas();
    if (c.done) break;
    const scheme = c.token();
    if (scheme === '') {
      c.pos++; // not a token character: skip it
      continue;
    }
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    challenges.push(challenge);
    if (c.peek() !== ' ' && c.peek() !== '\t') continue;
    c.skipSpaces();
    const token68 = readToken68(c);
    if (token68 !== undefined) {
      challenge.token68 = token68;
      continue;
    }
    // auth-params until something that is not `name = value`.
    while (true) {
      const save = c.pos;
      const name = c.token();
      c.skipSpaces();
      if (name === '' || c.peek() !== '=') {
        c.pos = save; // the next challenge's scheme (or junk), read by the outer loop
        break;
      }
      c.pos++;
      c.skipSpaces();
      const value = c.peek() === '"' ? c.quoted() : c.bare();
      challenge.params[name.toLowerCase()] = value;
      c.skipSpaces();
      if (c.peek() !== ',') break;
      c.skipSpacesAndCommas();
    }
  }
  return challenges;
}

/** A token68 (`Negotiate YWJj==`) when that is what follows the scheme; the cursor is left alone otherwise. */
function readToken68(c: Cursor): string | undefined {
  const start = c.pos;
  while (!c.done && TOKEN68_CHAR.test(c.peek())) c.pos++;
  if (c.pos === start) return undefined;
  while (c.peek() === '=') c.pos++;
  const end = c.pos;
  c.skipSpaces();
  // `name=value` goes on after its "="; a token68 ends the challenge (its "=" are padding).
  if (c.done || c.peek() === ',') return c.text.slice(start, end);
  c.pos = start;
  return undefined;
}

/** The first challenge of a scheme (lowercase), if offered. */
export function findChallenge(challenges: Challenge[], scheme: 'bearer' | 'basic'): Challenge | undefined {
  return challenges.find((ch) => ch.scheme === scheme);
}

/** A resource scope of the token protocol: `repository:team/app:pull,push`. */
export interface Scope {
  type: string;
  name: string;
  actions: string[];
}

export function parseScope(text: string): Scope | undefined {
  const first = text.indexOf(':');
  const last = text.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  const actions = text
    .slice(last + 1)
    .split(',')
    .filter((a) => a !== '');
  return { type: text.slice(0, first), name: text.slice(first + 1, last), actions };
}

export function formatScope(scope: Scope): string {
  return `${scope.type}:${scope.name}:${scope.actions.join(',')}`;
}

/** The scope for pulling from, or pushing to (pull,push), a repository. */
export function repositoryScope(repository: string, ...actions: ('pull' | 'push' | 'delete')[]): string {
  return `repository:${repository}:${actions.join(',')}`;
}

/** Scopes from several sources (ours, the challenge's) as one list: actions joined per resource, sorted. */
export function mergeScopes(...lists: string[][]): string[] {
  const byResource = new Map<string, { type: string; name: string; actions: Set<string> }>();
  for (const text of lists.flat()) {
    // A challenge's `scope` parameter may hold several, separated by spaces.
    for (const part of text.split(' ')) {
      const scope = parseScope(part);
      if (scope === undefined) continue;
      const key = `${scope.type}:${scope.name}`;
      const entry = byResource.get(key) ?? { type: scope.type, name: scope.name, actions: new Set<string>() };
      for (const a of scope.actions) entry.actions.add(a);
      byResource.set(key, entry);
    }
  }
  const order = (a: string) => ['pull', 'push', 'delete'].indexOf(a) >>> 0;
  return [...byResource.values()]
    .map((e) =>
      formatScope({ ...e, actions: [...e.actions].sort((a, b) => order(a) - order(b) || a.localeCompare(b)) }),
    )
    .sort();
}

/** Does a token granted for `have` cover every action of `want`? (`*` covers all.) */
export function scopesCover(have: string[], want: string[]): boolean {
  const granted = new Map<string, Set<string>>();
  for (const s of mergeScopes(have)) {
    const scope = parseScope(s) as Scope;
    granted.set(`${scope.type}:${scope.name}`, new Set(scope.actions));
  }
  return mergeScopes(want).every((s) => {
    const scope = parseScope(s) as Scope;
    const actions = granted.get(`${scope.type}:${scope.name}`);
    return actions !== undefined && (actions.has('*') || scope.actions.every((a) => actions.has(a)));
  });
}
