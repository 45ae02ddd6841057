import { describe, expect, it } from 'vitest';
import { formatReference, hasExplicitTag, isShortName, parseReference } from '../../src/image/reference.js';

const digest = `sha256:${'a'.repeat(64)}`;

describe('image references', () => {
  it('resolves short names the way docker does', () => {
    expect(formatReference(parseReference('busybox'))).toBe('docker.io/library/busybox:latest');
    expect(formatReference(parseReference('team/app:1.0'))).toBe('docker.io/team/app:1.0');
    expect(formatReference(parseReference('index.docker.io/library/alpine'))).toBe('docker.io/library/alpine:latest');
    expect(formatReference(parseReference('busybox', 'quay.io'))).toBe('quay.io/busybox:latest');
  });

  it('takes a first part with a dot, a colon or localhost as the registry', () => {
    expect(parseReference('localhost:5000/a/b:c')).toEqual({
      registry: 'localhost:5000',
      repository: 'a/b',
      tag: 'c',
      digest: undefined,
    });
    expect(parseReference('127.0.0.1:5000/app').registry).toBe('127.0.0.1:5000');
    expect(parseReference('localhost/app').registry).toBe('localhost');
    expect(parseReference('example.com/x').registry).toBe('example.com');
  });

  it('keeps digests, with or without a tag', () => {
    expect(parseReference(`app@${digest}`)).toMatchObject({ tag: undefined, digest });
    expect(formatReference(parseReference(`app:1@${digest}`))).toBe(`docker.io/library/app:1@${digest}`);
  });

  it('refuses what is not a reference, saying why', () => {
    expect(() => parseReference('UPPER/case')).toThrow(/must be lowercase/);
    expect(() => parseReference('app:')).toThrow(/not a valid tag/);
    expect(() => parseReference('app@sha256:1234')).toThrow(/not a sha256 or sha512 digest/);
    expect(() => parseReference('')).toThrow(/empty/);
  });

  it('tells an explicit tag from the default one', () => {
    expect(hasExplicitTag('localhost:5000/app')).toBe(false);
    expect(hasExplicitTag('localhost:5000/app:1')).toBe(true);
    expect(hasExplicitTag(`app@${digest}`)).toBe(false);
  });

  it('tells a short name (no registry) from a name with one, as podman does', () => {
    for (const short of ['app', 'app:1', `app@${digest}`, 'team/app', 'library/busybox', 'localhost', 'a/b/c:1']) {
      expect(isShortName(short), short).toBe(true);
    }
    for (const full of [
      'localhost/app',
      'quay.io/x',
      'localhost:5000/app',
      '127.0.0.1:5000/a/b:1',
      `docker.io/app@${digest}`,
    ]) {
      expect(isShortName(full), full).toBe(false);
    }
  });
});
