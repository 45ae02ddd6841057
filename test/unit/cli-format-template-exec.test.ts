// Go's text/template as src/cli/format/go-template/ runs it: parsing, execution, variables, control
// structures and the functions. Expected texts and error lines are what `podman info --format` and
// `podman ps --format` (podman 4.3.1, Go 1.19) printed on the development host.
import { describe, expect, it } from 'vitest';
import { TemplateError } from '../../src/cli/format/go-template/errors.js';
import { renderTemplate } from '../../src/cli/format/template.js';

const INFO = { name: 'info', type: '*define.Info' };
const run = (template: string, value: unknown = { Host: { Arch: 'amd64' } }): string =>
  renderTemplate(template, value, INFO);
const fails = (template: string, value?: unknown): string => {
  try {
    run(template, value);
  } catch (e) {
    expect(e).toBeInstanceOf(TemplateError);
    return (e as Error).message;
  }
  throw new Error(`no error for ${template}`);
};

describe('lexing and parsing', () => {
  it('reads literals as Go does', () => {
    expect(
      run(
        "{{ 0b101 }} {{ 0o17 }} {{ 017 }} {{ 1_000 }} {{ 0x_1F }} {{ 'a' }} {{ '\\n' }} {{ 1.5e3 }} {{ .5 }} {{ 0x1p-2 }}",
      ),
    ).toBe(
      // '\n' in a char constant: the escape makes the template fail, so podman runs it as typed (no newline added).
      '5 15 15 1000 31 97 10 1500 0.5 0.25',
    );
    expect(run('{{1}} {{1.5}} {{1e3}} {{0x10}} {{-2}} {{true}} {{-0.0}} {{1e6}}')).toBe(
      '1 1.5 1000 16 -2 true -0 1e+06\n',
    );
    expect(run('{{ "\\u00e9\\U0001F600\\x41\\101\\a" | printf "%q" }}')).toBe('"é😀AA\\a"\n');
    expect(run('{{`raw\\t`}}')).toBe('raw\t\n');
  });

  it('trims around {{- and -}}, drops comments', () => {
    expect(run('a {{- /* comment */ -}} b {{- 1 -}} c')).toBe('ab1c\n');
    expect(run('{{/* c */}}a  {{- " b " -}}  c')).toBe('a b c\n');
    expect(run('{{ -3 }} {{3 -}}x{{- 3}}')).toBe('-3 3x3\n');
    expect(run('{{ print\n  1\n  2 }}')).toBe('1 2\n');
  });

  it('words parse errors as Go, with the line of the token', () => {
    expect(fails('{{ 1__0 }}')).toBe('template: info:1: illegal number syntax: "1__0"');
    expect(fails('{{ 1x }}')).toBe('template: info:1: bad number syntax: "1x"');
    expect(fails('{{ 99999999999999999999 }}')).toBe('template: info:1: integer overflow: "99999999999999999999"');
    expect(fails('{{ "a\\qb" }}')).toBe('template: info:1: invalid syntax');
    expect(fails('{{ "unterminated }}')).toBe('template: info:1: unterminated quoted string');
    expect(fails('{{ `raw }}')).toBe('template: info:1: unterminated raw quoted string');
    expect(fails("{{ 'ab' }}")).toBe("template: info:1: malformed character constant: 'ab'");
    expect(fails('{{ .Foo. }}')).toBe('template: info:1: unexpected <.> in operand');
    expect(fails('{{ .Foo! }}')).toBe("template: info:1: bad character U+0021 '!'");
    expect(fails('{{ $x, $y := 1 }}')).toBe('template: info:1: too many declarations in command');
    expect(fails('{{ range $a, $b, $c := . }}{{ end }}')).toBe('template: info:1: too many declarations in range');
    expect(fails('{{ if }}{{ end }}')).toBe('template: info:1: missing value for if');
    expect(fails('{{ if 1 }}a{{ else }}b{{ else }}c{{ end }}')).toBe('template: info:1: expected end; found {{else}}');
    expect(fails('{{ if 1 }}a\n{{ end }}{{ end }}')).toBe('template: info:2: unexpected {{end}}');
    expect(fails('{{ with 1 }}{{ else if 2 }}{{ end }}')).toBe('template: info:1: unexpected <if> in input');
    expect(fails('{{ 1 | 2 }}')).toBe('template: info:1: non executable command in pipeline stage 2');
    expect(fails('{{ print (1 }}')).toBe('template: info:1: unclosed left paren');
    expect(fails('{{ print 1) }}')).toBe('template: info:1: unexpected ")" in command');
    expect(fails('{{ 1.Foo }}')).toBe('template: info:1: bad number syntax: "1.F"');
    expect(fails('{{ "s".Foo }}')).toBe('template: info:1: unexpected . after term "\\"s\\""');
    expect(fails('{{ define "a" }}A{{ end }}{{ define "a" }}B{{ end }}')).toBe(
      'template: info:1: template: multiple definition of template "a"',
    );
    expect(fails('{{ else }}')).toBe('template: info:1: unexpected {{else}}');
    expect(fails('{{ break }}')).toBe('template: info:1: {{break}} outside {{range}}');
    expect(fails('{{/* unclosed }}')).toBe('template: info:1: unclosed comment');
    expect(fails('{{/* comment */ x }}')).toBe('template: info:1: comment ends before closing delimiter');
    expect(fails('line1\nline2 {{ nope }}')).toBe('template: info:2: function "nope" not defined');
    expect(fails('{{ $x := 1 }}{{ if 1 }}{{ $y := 2 }}{{ end }}{{ $y }}')).toBe(
      'template: info:1: undefined variable "$y"',
    );
    expect(fails('{{ 1i }}')).toMatch(/^template: info:1: complex number 1i/);
  });
});

describe('execution', () => {
  it('names the node and its line:column in execution errors', () => {
    expect(fails('line1 {{ "ok" }}\nline2 {{ .Nope }}')).toBe(
      'template: info:2:9: executing "info" at <.Nope>: can\'t evaluate field Nope in type *define.Info',
    );
    expect(fails('{{ 1 }} {{ nil }}')).toBe('template: info:1:11: executing "info" at <nil>: nil is not a command');
    expect(fails('{{ . . }}')).toBe(
      'template: info:1:3: executing "info" at <.>: can\'t give argument to non-function .',
    );
    expect(fails('{{ nil.Foo }}')).toBe('template: info:1: unexpected . after term "nil"');
    expect(fails('{{ (nil).Foo }}')).toBe('template: info:1:4: executing "info" at <nil>: nil is not a command');
    expect(fails('{{ ("a").Foo }}')).toBe(
      'template: info:1:4: executing "info" at <"a">: can\'t evaluate field Foo in type string',
    );
    expect(fails('{{ template "nope" }}')).toBe(
      'template: info:1:12: executing "info" at <{{template "nope"}}>: template "nope" not defined',
    );
    // Columns count bytes, as Go's do.
    expect(fails('é {{ .Nope }}')).toBe(
      'template: info:1:6: executing "info" at <.Nope>: can\'t evaluate field Nope in type *define.Info',
    );
  });

  it('scopes variables as Go: declared until the end of the enclosing block', () => {
    expect(run('{{$x := 1}}{{$x = 2}}{{$x}} {{$y := 1}}{{if true}}{{$y = 3}}{{$z := 4}}{{end}}{{$y}}')).toBe('2 3\n');
    expect(run('{{ $x := "a" }}{{ with $x }}{{ $x }}{{ end }}{{ $x }}')).toBe('aa\n');
    expect(run('{{ $ }}', { A: 'x' })).toBe('{x}\n');
    expect(run('{{ $.Host.Arch | printf "%T" }}')).toBe('string\n');
    expect(fails('{{ if $x := 1 }}{{ $x }}{{ end }}{{ $x }}')).toBe('template: info:1: undefined variable "$x"');
  });

  it('if, else if, with, range with else, break and continue', () => {
    expect(run('{{ if 0 }}a{{ else if 0 }}b{{ else if 1 }}c{{ else }}d{{ end }}')).toBe('c\n');
    expect(run('{{with $x := "a"}}{{$x}}{{else}}b{{end}}|{{with ""}}a{{else}}b{{end}}')).toBe('a|b\n');
    expect(run('{{ range (split "a b c" " ") }}{{ if eq . "b" }}{{ continue }}{{ end }}{{ . }}{{ end }}')).toBe('ac\n');
    expect(run('{{range $i, $e := split "a,b,c" ","}}{{if eq $e "b"}}{{break}}{{end}}{{$e}}{{end}}')).toBe('a\n');
    expect(
      run(
        '{{ range $i, $v := (split "a b" " ") }}{{ $i }}={{ $v }} {{ end }}{{ range $v := (split "x y" " ") }}{{ $v }}{{ end }}',
      ),
    ).toBe('0=a 1=b xy\n');
    expect(run('{{range split "" "x"}}[{{.}}]{{else}}none{{end}}|{{range .L}}x{{else}}none{{end}}', { L: [] })).toBe(
      '[]|none\n',
    );
    // Maps range in sorted key order, byte-wise.
    expect(run('{{range $k, $v := .M}}{{$k}}={{$v}} {{end}}', { M: { b: 1, a: 2, B: 3, é: 4 } })).toBe(
      'B=3 a=2 b=1 é=4 \n',
    );
    expect(fails('{{range $i, $c := "ab"}}{{$i}}{{end}}')).toBe(
      'template: info:1:18: executing "info" at <"ab">: range can\'t iterate over ab',
    );
    expect(fails('{{range 3}}x{{end}}')).toBe(
      'template: info:1:8: executing "info" at <3>: range can\'t iterate over 3',
    );
  });

  it('define, template and block', () => {
    expect(run('{{define "T"}}[{{.}}]{{end}}{{template "T" "x"}}{{block "B" 5}}<{{.}}>{{end}}')).toBe('[x]<5>\n');
    expect(run('{{define "T"}}{{.}}{{end}}{{template "T"}}')).toBe('<no value>\n');
    expect(fails('{{define "T"}}{{.Nope}}{{end}}{{template "T" 1}}')).toBe(
      'template: info:1:16: executing "T" at <.Nope>: can\'t evaluate field Nope in type int',
    );
  });

  it('missing map keys are no value; a nil map has no keys', () => {
    const value = { M: { a: 'b' }, N: null, I: { x: 1 } };
    expect(run('{{.M.a}} {{.M.x}} {{.M.x.y}} {{index .M "x"}}| {{.N}} {{.N.x}} {{index .I "y"}}', value)).toBe(
      'b <no value> <no value> | <nil> <no value> 0\n',
    );
    expect(run('{{eq .M.x "x"}} {{eq .M.x nil}} {{if .M.x}}y{{else}}n{{end}}', value)).toBe('false true n\n');
    expect(fails('{{upper .M.x}}', value)).toBe(
      'template: info:1:10: executing "info" at <.M.x>: invalid value; expected string',
    );
    expect(fails('{{.M.x | upper}}', value)).toBe(
      'template: info:1:9: executing "info" at <upper>: invalid value; expected string',
    );
    expect(fails('{{.M.a 1}}', value)).toBe(
      'template: info:1:4: executing "info" at <.M.a>: a is not a method but has arguments',
    );
  });
});

describe('functions', () => {
  it('checks arguments against Go types', () => {
    expect(fails('{{upper 1}}')).toBe('template: info:1:8: executing "info" at <1>: expected string; found 1');
    expect(fails('{{upper .Host}}')).toBe(
      'template: info:1:8: executing "info" at <.Host>: wrong type for value; expected string; got struct',
    );
    expect(fails('{{truncate "abc" "x"}}')).toBe(
      'template: info:1:17: executing "info" at <"x">: expected integer; found "x"',
    );
    expect(fails('{{join "a" ","}}')).toBe(
      'template: info:1:7: executing "info" at <"a">: can\'t handle "a" for arg of type []string',
    );
    expect(fails('{{lower}}')).toBe(
      'template: info:1:2: executing "info" at <lower>: wrong number of args for lower: want 1 got 0',
    );
    expect(fails('{{and}}')).toBe(
      'template: info:1:2: executing "info" at <and>: wrong number of args for and: want at least 1 got 0',
    );
    expect(fails('{{printf}}')).toBe(
      'template: info:1:2: executing "info" at <printf>: wrong number of args for printf: want at least 1 got 0',
    );
    expect(run('{{ 3 | printf "%d-%d" 4 }} {{"a" | printf "%s %s" "b"}}')).toBe('4-3 b a\n');
  });

  it('and, or, not, comparisons', () => {
    expect(
      run('{{and 1 0 2}} {{or 0 "" "x"}} {{not .Host}} {{ not 0 }} {{ and "a" "" "b" }}| {{ or "" 0 }} {{ and 1 2 }}'),
    ).toBe('0 x false true | 0 2\n');
    expect(
      run('{{eq "a" "a" "b"}} {{ne 1 2}} {{le "a" "b"}} {{gt 2 1}} {{ge 1.5 1.5}} {{eq true true}} {{ eq 1 2 3 1 }}'),
    ).toBe('true true true true true true true\n');
    expect(fails('{{lt true false}}')).toBe(
      'template: info:1:2: executing "info" at <lt true false>: error calling lt: invalid type for comparison',
    );
    expect(fails('{{ eq 1 1.0 }}')).toBe(
      'template: info:1:3: executing "info" at <eq 1 1.0>: error calling eq: incompatible types for comparison',
    );
    expect(fails('{{ eq "a" }}')).toBe(
      'template: info:1:3: executing "info" at <eq "a">: error calling eq: missing argument for comparison',
    );
    expect(fails('{{eq (split "a" ",") (split "a" ",")}}')).toBe(
      'template: info:1:2: executing "info" at <eq (split "a" ",") (split "a" ",")>: error calling eq: non-comparable type [a]: []string',
    );
  });

  it('len, index, slice (bytes on strings)', () => {
    expect(
      run(
        '{{index "abc" 1}} {{slice "abc" 1 2}} {{index (split "a,b" ",") 1}} {{len "héllo"}} {{ len (split "a b" " ") }}',
      ),
    ).toBe('98 b b 6 2\n');
    expect(
      run('{{ slice (split "a b c d" " ") 1 3 }} {{ slice "abcd" }} {{ slice (split "a b c d" " ") 1 2 3 }}'),
    ).toBe('[b c] abcd [b]\n');
    expect(fails('{{ slice "abcd" 1 2 3 }}')).toBe(
      'template: info:1:3: executing "info" at <slice "abcd" 1 2 3>: error calling slice: cannot 3-index slice a string',
    );
    expect(fails('{{slice "abc" 2 1}}')).toBe(
      'template: info:1:2: executing "info" at <slice "abc" 2 1>: error calling slice: invalid slice index: 2 > 1',
    );
    expect(fails('{{ index (split "a b" " ") -1 }}')).toBe(
      'template: info:1:3: executing "info" at <index (split "a b" " ") -1>: error calling index: index out of range: -1',
    );
    expect(fails('{{ index nil 1 }}')).toBe(
      'template: info:1:3: executing "info" at <index nil 1>: error calling index: index of untyped nil',
    );
    expect(fails('{{ len 3 }}')).toBe(
      'template: info:1:3: executing "info" at <len 3>: error calling len: len of type int',
    );
    expect(fails('{{ call 1 }}')).toBe(
      'template: info:1:3: executing "info" at <call 1>: error calling call: non-function of type int',
    );
  });

  it('print, println, html, js, urlquery', () => {
    expect(run('{{print 1 2 "a" "b" 3 true nil 1.5}}')).toBe('1 2ab3 true <nil> 1.5\n');
    expect(run('{{println 1 "a" 2}}|')).toBe('1 a 2\n|\n');
    expect(run('{{html 1 "<" 2 nil}}|{{js "\\x01é\\u2028=&"}}|{{urlquery "é/?=~-_." 1 2}}')).toBe(
      '1&lt;2&lt;no value&gt;|\\u0001é\\u2028\\u003D\\u0026|%C3%A9%2F%3F%3D~-_.1+2\n',
    );
    expect(run('{{ js "a\'b\\"c\\\\d<e>f&g=h\\t" }}')).toBe('a\\\'b\\"c\\\\d\\u003Ce\\u003Ef\\u0026g\\u003Dh\\u0009\n');
  });

  it("podman's join, json, lower, upper, title, pad, split, truncate", () => {
    expect(
      run('{{ join (split "a:b:c" ":") "-" }} {{ split "a::b" ":" }} {{ len (split "a::b" ":") }} {{split "a,b" ""}}'),
    ).toBe('a-b-c [a  b] 3 [a , b]\n');
    expect(run('{{title "hello wORLD foo_bar x-y é"}}|{{upper "straße"}}|{{lower "ÀB"}}')).toBe(
      'Hello WORLD Foo_bar X-Y É|STRAßE|àb\n',
    );
    expect(run('{{ pad "x" 2 0 }}|{{ pad "" 1 1 }}|{{ truncate "hello" 3 }} {{ truncate "hi" 5 }}')).toBe(
      '  x||hel hi\n',
    );
    expect(fails('{{ pad "x" -1 0 }}')).toBe(
      'template: info:1:3: executing "info" at <pad "x" -1 0>: error calling pad: strings: negative Repeat count',
    );
    expect(fails('{{truncate "abc" -1}}')).toBe(
      'template: info:1:2: executing "info" at <truncate "abc" -1>: error calling truncate: runtime error: slice bounds out of range [:-1]',
    );
    expect(
      run(
        '{{ json (split "a b" " ") }} {{ json "é\\t\\n\\"\\\\" }} {{ json 100000000000 }} {{ json 0.1 }} {{ json true }} {{ json nil }}',
      ),
    ).toBe('["a","b"] "é\\t\\n\\"\\\\" 100000000000 0.1 true null');
  });
});
