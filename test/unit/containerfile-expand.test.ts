import { describe, expect, it } from 'vitest';
import {
  expand,
  expandHeredoc,
  expandWord,
  expandWords,
  ExpansionError,
  GlobalScope,
  StageScope,
  type PlatformPair,
} from '../../src/build/containerfile/expand.js';

const vars = (entries: Record<string, string>) => {
  const map = new Map(Object.entries(entries));
  return { get: (name: string) => map.get(name) };
};

const v = vars({ A: 'hello world', E: '', P: '/usr/local/bin/app.tar.gz', N: '42' });

const amd64: PlatformPair = {
  build: { os: 'linux', architecture: 'amd64' },
  target: { os: 'linux', architecture: 'arm', variant: 'v7' },
};

describe('expandWord: the forms BuildKit supports', () => {
  const cases: [string, string][] = [
    ['$A', 'hello world'],
    ['${A}', 'hello world'],
    ['x${N}y', 'x42y'],
    ['$N.txt', '42.txt'],
    ['"$A"', 'hello world'],
    ["'$A'", '$A'],
    ['${U:-def}', 'def'],
    ['${E:-def}', 'def'],
    ['${N:-def}', '42'],
    ['${U-def}', 'def'],
    ['${E-def}', ''],
    ['${N:+alt}', 'alt'],
    ['${E:+alt}', ''],
    ['${E+alt}', 'alt'],
    ['${U+alt}', ''],
    ['${U:-${N}}', '42'],
    ['\\$A', '$A'],
    ['\\${A}', '${A}'],
    ['$', '$'],
    ['a$', 'a$'],
    ['$U', ''],
    ['${P##*/}', 'app.tar.gz'],
    ['${P#*/}', 'usr/local/bin/app.tar.gz'],
    ['${P%.*}', '/usr/local/bin/app.tar'],
    ['${P%%.*}', '/usr/local/bin/app'],
    ['${P/local/X}', '/usr/X/bin/app.tar.gz'],
    ['${P//l/L}', '/usr/LocaL/bin/app.tar.gz'],
    ['a\\ b', 'a b'],
    ['"a\\"b"', 'a"b'],
    ['"a\\b"', 'a\\b'],
    ["'a\\b'", 'a\\b'],
    ['x"y z"w', 'xy zw'],
  ];
  it.each(cases)('%s → %s', (word, want) => {
    expect(expandWord(word, v)).toBe(want);
  });

  it('errors as BuildKit words them', () => {
    expect(() => expandWord('${U?must be set}', v)).toThrow('U: must be set');
    expect(() => expandWord('${U:?}', v)).toThrow('U: is not allowed to be unset');
    expect(() => expandWord('${E:?}', v)).toThrow('E: is not allowed to be empty');
    expect(() => expandWord('${A', v)).toThrow('failed to process "${A": syntax error: missing \'}\'');
    expect(() => expandWord('${}', v)).toThrow('bad substitution');
    expect(() => expandWord('${A:#x}', v)).toThrow('unsupported modifier (:#) in substitution');
    expect(() => expandWord('"abc', v)).toThrow('looking for matching double-quote');
    expect(() => expandWord("'abc", v)).toThrow(ExpansionError);
  });

  it('the backtick escape character, after # escape=`', () => {
    expect(expandWord('C:\\path`$A', v, { escape: '`' })).toBe('C:\\path$A');
    expect(expandWord('"a`"b"', v, { escape: '`' })).toBe('a"b');
  });
});

describe('expandWords: splitting after expansion', () => {
  it('splits unquoted expansion results, keeps quoted ones whole', () => {
    expect(expandWords('$A "$A" x', v)).toEqual(['hello', 'world', 'hello world', 'x']);
    expect(expandWords('80/tcp   443', v)).toEqual(['80/tcp', '443']);
    expect(expandWords('"" a', v)).toEqual(['a']);
  });

  it('reports the variables used and unset', () => {
    const r = expand('$A ${U:-x} $N', v);
    expect([...r.used].sort()).toEqual(['A', 'N']);
    expect([...r.unset]).toEqual(['U']);
  });

  it('skipUnset leaves unknown references as written (heredoc detection)', () => {
    expect(expand('$U ${U} ${U:-d} $A', v, { skipUnset: true }).word).toBe('$U ${U} ${U:-d} hello world');
  });
});

describe('expandHeredoc: COPY heredoc bodies', () => {
  it('expands variables, keeps quotes', () => {
    expect(expandHeredoc('echo "$A" \'$N\'\n', v)).toBe('echo "hello world" \'42\'\n');
    expect(expandHeredoc('price: \\$5\n', v)).toBe('price: $5\n');
  });
});

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
