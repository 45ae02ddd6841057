// Go's fmt and encoding/json as src/cli/format/go-template/ prints values. Expected texts are what
// podman 4.3.1 (Go 1.19) printed on the development host for the same printf calls.
import { describe, expect, it } from 'vitest';
import { formatFloat, sprint, sprintf } from '../../src/cli/format/go-template/fmt.js';
import { goJson } from '../../src/cli/format/go-template/json.js';
import { declareMap, declareStruct, GoFloat } from '../../src/cli/format/go-template/values.js';

const f = (v: number) => new GoFloat(v);

describe('printing values as %v', () => {
  it('prints slices, maps sorted, structs in order, nil and times as Go', () => {
    expect(sprint([['a', 'b']])).toBe('[a b]');
    expect(sprint([{ z: 1, a: [true] }])).toBe('map[a:[true] z:1]');
    expect(sprint([declareStruct({ b: 1, a: 'x' }, 'T')])).toBe('{1 x}');
    expect(sprint([{ Status: 'running', Pid: 4 }])).toBe('{running 4}');
    expect(sprint([declareMap({ Status: 'running' })])).toBe('map[Status:running]');
    expect(sprint([null])).toBe('<nil>');
    expect(sprint([[null, 'a']])).toBe('[<nil> a]');
    expect(sprint([new Date('2026-12-08T01:37:34.390Z')])).toBe('2026-12-08 01:37:34.39 +0000 UTC');
    expect(sprint([new Date('2026-12-08T01:37:34Z')])).toBe('2026-12-08 01:37:34 +0000 UTC');
  });

  it('prints numbers as Go: integral JavaScript numbers are ints, literals keep float-ness', () => {
    expect(sprint([1997907, 1.5, f(1e6), f(100000), f(1e21), f(123456789), f(0.0001), f(1e-5), f(-0)])).toBe(
      '1997907 1.5 1e+06 100000 1e+21 1.23456789e+08 0.0001 1e-05 -0',
    );
  });
});

describe('sprintf', () => {
  it('integers', () => {
    expect(sprintf('%6.3d|%-6d|%06d|%+06d|% 6d|%.0d|%5.0d|', [42, 42, -42, 42, 42, 0, 0])).toBe(
      '   042|42    |-00042|+00042|    42||     |',
    );
    expect(sprintf('%x|%X|%o|%O|%b|%#x|%#o|%#b', [255, -255, 8, 8, 5, 255, 8, 5])).toBe(
      'ff|-FF|10|0o10|101|0xff|010|0b101',
    );
    expect(sprintf('%c%c|%q|%U|%#U|%+q', [65, 0x263a, 10, 0x263a, 0x41, 0x263a])).toBe(
      "A☺|'\\n'|U+263A|U+0041 'A'|'\\u263a'",
    );
  });

  it('floats, rounding half to even on the exact binary value', () => {
    expect(
      sprintf('%5.2f|%-8.3e|%g|%G|%.3g|%10.4g', [f(3.14159), f(1234.5678), f(0.00001234), f(1e100), f(2), f(123456)]),
    ).toBe(' 3.14|1.235e+03|1.234e-05|1E+100|2| 1.235e+05');
    expect(sprintf('%.0f %.0f %.0f %.1f %.2f', [f(0.5), f(1.5), f(2.5), f(0.25), f(1.005)])).toBe('0 2 2 0.2 1.00');
    expect(sprintf('%08.3f|%-8.3f|%+.2e|%x|%X', [f(3.14159), f(2.5), f(12345.678), f(3.5), f(255.5)])).toBe(
      '0003.142|2.500   |+1.23e+04|0x1.cp+01|0X1.FFP+07',
    );
    expect(sprintf('%#g|%#.3e|%#f|%#v', [f(1), f(2), f(3), f(2.5)])).toBe('1.00000|2.000e+00|3.000000|2.5');
    expect(sprintf('%6.2v|%e|%g', [f(3.14159), f(0), f(0)])).toBe('   3.1|0.000000e+00|0');
    expect(formatFloat(Number.NaN, 'g', -1)).toBe('NaN');
    expect(sprintf('%f|%5.1f|%+f', [f(Infinity), f(-Infinity), f(Number.NaN)])).toBe('+Inf| -Inf|+NaN');
    expect(formatFloat(1, 'b', -1)).toBe('4503599627370496p-52');
  });

  it('strings', () => {
    expect(
      sprintf('%s|%10s|%-10s|%.1s|%q|%+q|%#q|%x|%X|% X|%# x', [
        'héllo',
        'héllo',
        'héllo',
        'héllo',
        'héllo☺',
        'héllo☺',
        'a`b',
        'hé',
        'hé',
        'hé',
        'hé',
      ]),
    ).toBe('héllo|     héllo|héllo     |h|"héllo☺"|"h\\u00e9llo\\u263a"|"a`b"|68c3a9|68C3A9|68 C3 A9|0x68 0xc3 0xa9');
    expect(sprintf('%q', ['é\x01☺\u2028'])).toBe('"é\\x01☺\\u2028"');
    expect(sprintf('%05s|%.2s|%#q', ['ab', 'abc', 'hi'])).toBe('000ab|ab|`hi`');
  });

  it('composites apply the verb to each element', () => {
    const labels = { h: '<a&b>', u: 'é€' };
    expect(sprintf('%v %d %s', [labels, labels, ['true']])).toBe(
      'map[h:<a&b> u:é€] map[%!d(string=h):%!d(string=<a&b>) %!d(string=u):%!d(string=é€)] [true]',
    );
    expect(
      sprintf('%s %-4s| %q %#v', [
        ['a', 'b'],
        ['a', 'b'],
        ['a', 'b'],
        ['a', 'b'],
      ]),
    ).toBe('[a b] [a    b   ]| ["a" "b"] []string{"a", "b"}');
    expect(
      sprintf('%v|%+v', [declareStruct({ APIVersion: '4.3.1', Built: 0 }, 'define.Version'), { APIVersion: '4.3.1' }]),
    ).toBe('{4.3.1 0}|{APIVersion:4.3.1}');
  });

  it('misuse prints as Go', () => {
    expect(sprintf('%d %s %s %!', ['str'])).toBe('%!d(string=str) %!s(MISSING) %!s(MISSING) %!!(MISSING)');
    expect(sprintf('%s', [1, 2])).toBe('%!s(int=1)%!(EXTRA int=2)');
    expect(sprintf('%t %t %v %s', [true, 1, false, false])).toBe('true %!t(int=1) false %!s(bool=false)');
    expect(sprintf('%v|%d|%s', [null, null, null])).toBe('<nil>|%!d(<nil>)|%!s(<nil>)');
    expect(sprintf('%!%%|%z|%', [1])).toBe('%!!(int=1)%|%!z(MISSING)|%!(NOVERB)');
    expect(sprintf('%[2]s %[1]s %s', ['a', 'b'])).toBe('b a b');
    expect(sprintf('%[3]s', ['a'])).toBe('%!s(BADINDEX)');
    expect(sprintf('%*d|%-*d|%.*f|%*s', [5, 1, 4, 2, 2, f(3.14159), 'x', 'y'])).toBe('    1|2   |3.14|%!(BADWIDTH)y');
    expect(sprintf('%T %T %T %T %T %T', [1, f(1.5), 's', true, null, ['a']])).toBe(
      'int float64 string bool <nil> []string',
    );
  });
});

describe('goJson (podman json function)', () => {
  it('encodes compactly, maps sorted, structs in order, without HTML escaping', () => {
    expect(goJson({ z: 1, a: ['<a&b>'] })).toBe('{"a":["<a&b>"],"z":1}');
    expect(goJson({ Status: 'x', Pid: 1 })).toBe('{"Status":"x","Pid":1}');
    expect(goJson('\u2028\x01\b\t"\\é')).toBe('"\\u2028\\u0001\\u0008\\t\\"\\\\é"');
    expect(goJson([f(1.5), f(-0), f(1e21), f(1e-7), f(1e20), 3])).toBe('[1.5,-0,1e+21,1e-7,100000000000000000000,3]');
    expect(goJson(null)).toBe('null');
    expect(goJson(undefined)).toBe('null');
    expect(goJson(new Date('2026-12-08T01:37:34.390Z'))).toBe('"2026-12-08T01:37:34.39Z"');
    // Go's encoder fails on NaN; podman prints nothing then.
    expect(goJson({ a: Number.NaN })).toBe('');
  });
});
