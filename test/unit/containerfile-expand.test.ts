import { describe, expect, it } from 'vitest';
import {
  expand,
  expandHeredoc,
  expandWord,
  expandWords,
  ExpansionError,
} from '../../src/build/containerfile/expand.js';

const vars = (entries: Record<string, string>) => {
  const map = new Map(Object.entries(entries));
  return { get: (name: string) => map.get(name) };
};

const v = vars({ A: 'hello world', E: '', P: '/usr/local/bin/app.tar.gz', N: '42' });

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
