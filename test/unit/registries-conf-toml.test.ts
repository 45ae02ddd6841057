import { describe, expect, it } from 'vitest';
import { lineOf, parseToml, TomlError, type TomlTable } from '../../src/image/registries-conf/toml.js';

function failure(text: string): TomlError {
  try {
    parseToml(text);
  } catch (error) {
    expect(error).toBeInstanceOf(TomlError);
    return error as TomlError;
  }
  throw new Error(`parsed without an error: ${JSON.stringify(text)}`);
}

describe('parseToml: what registries.conf files use', () => {
  it('reads podman conformance run registries.conf', () => {
    const doc = parseToml(`unqualified-search-registries = ["docker.io"]

# quay.io is not reachable here: the test image lives in a local registry
[[registry]]
prefix = "quay.io/libpod"
location = "127.0.0.1:5000/libpod"
insecure = true

[[registry]]
location = "127.0.0.1:5000"
insecure = true
`);
    expect(doc).toEqual({
      'unqualified-search-registries': ['docker.io'],
      registry: [
        { prefix: 'quay.io/libpod', location: '127.0.0.1:5000/libpod', insecure: true },
        { location: '127.0.0.1:5000', insecure: true },
      ],
    });
  });

  it('adds [[registry.mirror]] to the last [[registry]]', () => {
    const doc = parseToml(`[[registry]]
location = "a.io"
[[registry.mirror]]
location = "m1.io"
[[registry.mirror]]
location = "m2.io"
insecure = true
[[registry]]
location = "b.io"
[[registry.mirror]]
location = "m3.io"
`);
    expect(doc.registry).toEqual([
      { location: 'a.io', mirror: [{ location: 'm1.io' }, { location: 'm2.io', insecure: true }] },
      { location: 'b.io', mirror: [{ location: 'm3.io' }] },
    ]);
  });

  it('reads quoted keys (the [aliases] table) and dotted keys and headers', () => {
    const doc = parseToml(`[aliases]
  # a comment between entries
  "opensuse/tumbleweed" = "registry.opensuse.org/opensuse/tumbleweed"
  'ubi8/ubi' = "registry.access.redhat.com/ubi8/ubi"
  plain-key_1 = "docker.io/library/x"
[registries.search]
registries = ['a.io', "b.io"]
[a."b.c".d]
e.f = 1
`);
    expect(doc.aliases).toEqual({
      'opensuse/tumbleweed': 'registry.opensuse.org/opensuse/tumbleweed',
      'ubi8/ubi': 'registry.access.redhat.com/ubi8/ubi',
      'plain-key_1': 'docker.io/library/x',
    });
    expect(doc.registries).toEqual({ search: { registries: ['a.io', 'b.io'] } });
    expect(doc.a).toEqual({ 'b.c': { d: { e: { f: 1 } } } });
  });

  it('reads strings as TOML writes them: escapes, literal, multi-line', () => {
    const doc = parseToml(
      [
        String.raw`basic = "tab\there \"quoted\" back\\slash \u00e9 \U0001F600"`,
        String.raw`literal = 'C:\no\escapes "here"'`,
        'multi = """',
        'one',
        'two \\',
        '    three"""',
        "lit = '''",
        String.raw`raw \n line`,
        "'''",
        'after = 1',
      ].join('\n'),
    );
    expect(doc.basic).toBe('tab\there "quoted" back\\slash é 😀');
    expect(doc.literal).toBe(String.raw`C:\no\escapes "here"`);
    expect(doc.multi).toBe('one\ntwo three');
    expect(doc.lit).toBe(String.raw`raw \n line` + '\n');
    expect(doc.after).toBe(1);
    // Lines inside multi-line strings still count.
    expect(lineOf(doc, 'after')).toBe(10);
  });

  it('reads booleans, integers, arrays over several lines and inline tables', () => {
    const doc = parseToml(`yes = true
no = false
n = -1_000
arr = [
  "a", # first
  "b",
]
nested = [[1, 2], ["x"]]
empty = []
inline = { location = "x.io", insecure = true, deep.er = "y" }
`);
    expect(doc).toEqual({
      yes: true,
      no: false,
      n: -1000,
      arr: ['a', 'b'],
      nested: [[1, 2], ['x']],
      empty: [],
      inline: { location: 'x.io', insecure: true, deep: { er: 'y' } },
    });
  });

  it('accepts CRLF line ends, a BOM, a file without a final newline and an empty file', () => {
    expect(parseToml('\uFEFFa = "x"\r\n[t]\r\nb = true')).toEqual({ a: 'x', t: { b: true } });
    expect(parseToml('')).toEqual({});
    expect(parseToml('# only a comment\n\n')).toEqual({});
  });

  it('a super-table may be defined after a sub-table made it implicitly', () => {
    const doc = parseToml('[x.y]\nz = 1\n[x]\nw = 2\n');
    expect(doc).toEqual({ x: { y: { z: 1 }, w: 2 } });
  });

  it('knows the line of each key', () => {
    const doc = parseToml('a = 1\n\n[[registry]]\nlocation = "x"\n');
    expect(lineOf(doc, 'a')).toBe(1);
    expect(lineOf(doc, 'registry')).toBe(3);
    expect(lineOf((doc.registry as TomlTable[])[0] as TomlTable, 'location')).toBe(4);
  });
});

describe('parseToml: malformed documents name the line', () => {
  const cases: [string, string, number][] = [
    ['a = "x\nb = 1\n', 'the string has no closing quote on its line', 1],
    ["a = 'x\n", 'the string has no closing quote on its line', 1],
    ['\n\nlocation "x"\n', 'expected "=" after the key "location"', 3],
    ['a =\n', 'expected a value after "="', 1],
    ['a = 1\na = 2\n', 'key "a" is already defined (on line 1)', 2],
    ['[x]\n[x]\n', 'table "x" is already defined', 2],
    ['x = 1\n[[x]]\n', 'key "x" is already defined as something else than an array of tables', 2],
    ['[[x]]\n[x]\n', 'key "x" is already defined as an array of tables ([[x]])', 2],
    ['[t]\nx.b = 2\n[t.x]\n', 'table "t.x" is already defined', 3],
    ['[t]\n[u]\n[t]\n', 'table "t" is already defined', 3],
    ['a = 1\n[x]\nb = 2\n[x.b]\n', 'key "x.b" is already defined as a value', 4],
    ['a = ["x",\n "y"\n', 'the array has no closing "]"', 3],
    ['a = ["x" "y"]\n', 'expected "," or "]" in the array, not "\\""', 1],
    ['a = "x" b = 1\n', 'unexpected "b" after a value: one key = value per line', 1],
    ['a = 1.5\n', 'floats (1.5) are not supported here', 1],
    ['a = 1979-05-27\n', 'dates and times (1979-05-27) are not supported here', 1],
    ['a = 0x1f\n', 'hexadecimal, octal and binary integers (0x1f) are not supported here', 1],
    ['a = yes\n', '"yes" is not a value: strings need quotes', 1],
    ['a = "\\q"\n', 'unknown escape \\q in a string (write \\\\ for a backslash)', 1],
    ['a = "\\u12"\n', '\\u needs 4 hexadecimal digits', 1],
    ['[x\n', 'expected "]" to close the header [x', 1],
    ['[[x]\n', 'expected "]]" to close the header [[x', 1],
    ['= 1\n', 'unexpected "=" where a key was expected', 1],
    ['a = { b = 1\n', 'an inline table must close with "}" on its line', 1],
    ['a = { b = 1 }\n[a]\n', 'table "a" is already defined', 2],
    ['a = """x\n', 'the multi-line string has no closing """', 2],
    ['a = 99999999999999999999\n', 'the integer 99999999999999999999 is too large', 1],
    ['a = "x\ty"\nb = "\u0001"\n', 'the string holds a control character (U+0001): escape it', 2],
  ];
  it.each(cases)('%j: line %#', (text, reason, line) => {
    const error = failure(text);
    expect(error.reason).toBe(reason);
    expect(error.line).toBe(line);
    expect(error.message).toBe(`line ${line}: ${reason}`);
    expect(error.message).not.toContain('\n');
  });
});
