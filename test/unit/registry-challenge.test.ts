import { describe, expect, it } from 'vitest';
import {
  findChallenge,
  mergeScopes,
  parseChallenges,
  parseScope,
  repositoryScope,
  scopesCover,
} from '../../src/image/registry/challenge.js';

describe('parseChallenges', () => {
  it('reads a Bearer challenge as distribution sends it', () => {
    const [bearer] = parseChallenges(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
    );
    expect(bearer).toEqual({
      scheme: 'bearer',
      params: {
        realm: 'https://auth.docker.io/token',
        service: 'registry.docker.io',
        scope: 'repository:library/busybox:pull',
      },
    });
  });

  it('reads Basic, lowercases scheme and parameter names, keeps values', () => {
    expect(parseChallenges('BASIC Realm="Registry Realm"')).toEqual([
      { scheme: 'basic', params: { realm: 'Registry Realm' } },
    ]);
  });

  it('keeps commas and escaped quotes inside quoted strings', () => {
    const [ch] = parseChallenges('Bearer realm="https://a/token",scope="repository:a:pull,push",error="say \\"no\\""');
    expect(ch?.params).toEqual({ realm: 'https://a/token', scope: 'repository:a:pull,push', error: 'say "no"' });
  });

  it('takes unquoted values (leniently: an unquoted URL too) and whitespace around "=" (BWS)', () => {
    const [ch] = parseChallenges('Bearer realm = https://a/token , service=reg');
    expect(ch?.params).toEqual({ realm: 'https://a/token', service: 'reg' });
  });

  it('splits several challenges in one header', () => {
    const challenges = parseChallenges(
      'Basic realm="simple", Bearer realm="https://t/token",service="s", Newauth realm="apps", type=1, title="Login to \\"apps\\""',
    );
    expect(challenges.map((c) => c.scheme)).toEqual(['basic', 'bearer', 'newauth']);
    expect(challenges[1]?.params).toEqual({ realm: 'https://t/token', service: 's' });
    expect(challenges[2]?.params).toEqual({ realm: 'apps', type: '1', title: 'Login to "apps"' });
  });

  it('reads challenges from several header lines', () => {
    const challenges = parseChallenges(['Basic realm="x"', 'Bearer realm="https://t/token"']);
    expect(findChallenge(challenges, 'basic')?.params.realm).toBe('x');
    expect(findChallenge(challenges, 'bearer')?.params.realm).toBe('https://t/token');
  });

  it('reads a token68 and a scheme alone', () => {
    expect(parseChallenges('Negotiate YWJjZA==, Bearer')).toEqual([
      { scheme: 'negotiate', params: {}, token68: 'YWJjZA==' },
      { scheme: 'bearer', params: {} },
    ]);
  });

  it('survives junk and empty input without throwing', () => {
    expect(parseChallenges(undefined)).toEqual([]);
    expect(parseChallenges('')).toEqual([]);
    expect(parseChallenges(', ,')).toEqual([]);
    expect(parseChallenges('Bearer realm="unterminated')[0]?.params.realm).toBe('unterminated');
    expect(parseChallenges('"odd" Basic realm=x')[0]?.scheme).toBe('odd');
  });
});

describe('scopes', () => {
  it('parses repository scopes, names with slashes and ports', () => {
    expect(parseScope('repository:team/app:pull,push')).toEqual({
      type: 'repository',
      name: 'team/app',
      actions: ['pull', 'push'],
    });
    expect(parseScope('registry:catalog:*')).toEqual({ type: 'registry', name: 'catalog', actions: ['*'] });
    expect(parseScope('nonsense')).toBeUndefined();
  });

  it('merges actions per resource, in a stable order', () => {
    expect(
      mergeScopes(
        [repositoryScope('b', 'push'), repositoryScope('a', 'pull')],
        ['repository:b:pull repository:a:pull'],
      ),
    ).toEqual(['repository:a:pull', 'repository:b:pull,push']);
  });

  it('knows that pull,push covers pull, not the other way round', () => {
    expect(scopesCover(['repository:a:pull,push'], ['repository:a:pull'])).toBe(true);
    expect(scopesCover(['repository:a:pull'], ['repository:a:pull,push'])).toBe(false);
    expect(scopesCover(['repository:a:pull'], ['repository:b:pull'])).toBe(false);
    expect(scopesCover(['repository:a:*'], ['repository:a:push'])).toBe(true);
    expect(scopesCover([], [])).toBe(true);
  });
});
