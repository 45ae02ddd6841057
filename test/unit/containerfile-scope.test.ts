import { describe, expect, it } from 'vitest';
import { GlobalScope, StageScope, type PlatformPair } from '../../src/build/containerfile/scope.js';

const amd64: PlatformPair = {
  build: { os: 'linux', architecture: 'amd64' },
  target: { os: 'linux', architecture: 'arm', variant: 'v7' },
};

describe('scopes', () => {
  it('global ARGs: build args win, defaults expand with earlier ARGs and the platform ARGs', () => {
    const g = new GlobalScope(new Map([['VERSION', '2']]), amd64);
    expect(g.declare('VERSION', '1')).toBe('2');
    expect(g.declare('IMAGE', 'base:$VERSION-${TARGETARCH}')).toBe('base:2-arm');
    expect(g.get('TARGETPLATFORM')).toBe('linux/arm/v7');
    expect(g.get('BUILDPLATFORM')).toBe('linux/amd64');
    expect(g.declare('EMPTY', undefined)).toBeUndefined();
    expect(g.unconsumed()).toEqual([]);
  });

  it('a stage sees a global ARG only after redeclaring it; ENV overrides ARG', () => {
    const g = new GlobalScope(new Map([['FROMCLI', 'cli']]), amd64);
    g.declare('GLOBAL', 'g');
    const s = new StageScope(g, ['PATH=/bin', 'HOME=/root']);
    expect(s.get('GLOBAL')).toBeUndefined();
    expect(s.get('TARGETARCH')).toBeUndefined();
    s.declareArg('GLOBAL', undefined);
    s.declareArg('TARGETARCH', undefined);
    expect(s.get('GLOBAL')).toBe('g');
    expect(s.get('TARGETARCH')).toBe('arm');
    s.declareArg('X', 'from-arg');
    s.setEnv('X', 'from-env');
    expect(s.get('X')).toBe('from-env');
    s.declareArg('FROMCLI', 'default');
    expect(s.get('FROMCLI')).toBe('cli');
    expect(s.env()).toEqual(['PATH=/bin', 'HOME=/root', 'X=from-env']);
    expect(s.runEnv()).toEqual(['PATH=/bin', 'HOME=/root', 'X=from-env', 'GLOBAL=g', 'TARGETARCH=arm', 'FROMCLI=cli']);
    expect(g.unconsumed()).toEqual([]);
  });

  it('ARG defaults in a stage expand with the stage scope, in order', () => {
    const g = new GlobalScope(new Map(), amd64);
    const s = new StageScope(g, ['HOME=/root']);
    s.declareArg('A', '1');
    s.declareArg('B', '$A-$HOME');
    expect(s.get('B')).toBe('1-/root');
  });

  it('ENV replaces in place; proxy build args reach RUN without ARG', () => {
    const g = new GlobalScope(
      new Map([
        ['HTTP_PROXY', 'http://proxy:3128'],
        ['UNUSED', 'x'],
      ]),
      amd64,
    );
    const s = new StageScope(g, ['A=1', 'B=2']);
    s.setEnv('A', '3');
    expect(s.env()).toEqual(['A=3', 'B=2']);
    expect(s.runEnv()).toEqual(['A=3', 'B=2', 'HTTP_PROXY=http://proxy:3128']);
    expect(s.get('HTTP_PROXY')).toBeUndefined();
    expect(g.unconsumed()).toEqual(['UNUSED']);
  });
});
