/**
 * What the fuzzer feeds to hutch's parsers of untrusted input, and what may
 * come out. Each target generates inputs two ways: built from the format's
 * own pieces (so that most get past the first check), and mutated from good
 * inputs (bytes flipped, inserted, cut). Whatever comes in, a parser may only
 * succeed or throw its clean, typed error: HutchError (or the module's own
 * error class); a TypeError, RangeError or any other crash is a bug, and so
 * is an input that takes seconds (test/fuzz/worker.ts times each one).
 */
import { lstatSync, chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { ExpansionError } from '../../src/build/containerfile/expand.js';
import { loadContainerfile, parseTrigger } from '../../src/build/containerfile/instruction-parser.js';
import { INSTRUCTION_NAMES } from '../../src/build/containerfile/instructions.js';
import { commandArgs, resolveInstruction, resolveWorkdir, runArgs } from '../../src/build/containerfile/resolve.js';
import { GlobalScope, StageScope, type PlatformPair } from '../../src/build/containerfile/scope.js';
import { planStages } from '../../src/build/containerfile/stages.js';
import { HutchError } from '../../src/errors.js';
import { extractLayer } from '../../src/image/layer/extract.js';
import { manifestMediaType, parseImageConfig, parseManifestDocument } from '../../src/image/manifest.js';
import { layerCompression, MediaType } from '../../src/image/media.js';
import { formatPlatform, selectManifest } from '../../src/image/platform.js';
import { writeTarNumber } from '../helpers/tar-number.js';

export interface FuzzTarget<T = unknown> {
  arbitrary: fc.Arbitrary<T>;
  /** Feeds one input to the parser; throws what the parser throws. */
  run(input: T): void | Promise<void>;
  /** Whether an error is one the parser may end with (clean and typed). */
  accept(error: unknown): boolean;
  /** The input as text, for reports (bytes as hex, text as JSON). */
  show(input: T): string;
}

const hutchError = (error: unknown): boolean => error instanceof HutchError;

/** Edits that turn a good input into a damaged one: positions as fractions of its length. */
interface Edit {
  at: number;
  kind: 'insert' | 'delete' | 'replace';
  bytes: Uint8Array;
  count: number;
}

const edit: fc.Arbitrary<Edit> = fc.record({
  at: fc.double({ min: 0, max: 1, noNaN: true }),
  kind: fc.constantFrom('insert', 'delete', 'replace'),
  bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  count: fc.integer({ min: 1, max: 16 }),
});

function applyEdits(input: Buffer, edits: Edit[]): Buffer {
  let bytes = Buffer.from(input);
  for (const e of edits) {
    const at = Math.min(bytes.length, Math.floor(e.at * bytes.length));
    const head = bytes.subarray(0, at);
    if (e.kind === 'insert') bytes = Buffer.concat([head, e.bytes, bytes.subarray(at)]);
    else if (e.kind === 'delete') bytes = Buffer.concat([head, bytes.subarray(at + e.count)]);
    else bytes = Buffer.concat([head, e.bytes, bytes.subarray(at + e.bytes.length)]);
  }
  return bytes;
}

/** `value` once in `oneIn` inputs, else undefined (fc.option's freq is the other way round: how rare undefined is). */
const sometimes = <T>(value: fc.Arbitrary<T>, oneIn: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: value });

const hex = (bytes: Uint8Array, limit = 16384): string => {
  const all = Buffer.from(bytes).toString('hex');
  return all.length > limit ? `${all.slice(0, limit)}… (${bytes.length} bytes)` : all;
};

// ---------------------------------------------------------------------------
// Containerfiles: src/build/containerfile (lexer, parser, instructions, expansion).

const platforms: PlatformPair = {
  build: { os: 'linux', architecture: 'amd64' },
  target: { os: 'linux', architecture: 'arm64', variant: 'v8' },
};

/** The good Containerfiles of test/corpus (bad ones too: they are inputs like any other). */
let corpusCache: string[] | undefined;
function corpus(): string[] {
  if (corpusCache !== undefined) return corpusCache;
  const root = join(repo(), 'test', 'corpus');
  const files: string[] = [];
  for (const dir of [root, join(root, 'bad')]) {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name === 'bad') continue;
      for (const name of ['Containerfile', 'Dockerfile']) {
        try {
          files.push(readFileSync(join(dir, entry.name, name), 'utf8'));
        } catch {
          // not this name
        }
      }
    }
  }
  if (files.length === 0) throw new Error(`no Containerfiles under ${root}`);
  corpusCache = files;
  return files;
}

let repoRoot: string | undefined;
/** The checkout the corpus is read from (the worker is handed it: it runs from a bundle elsewhere). */
export function useRepo(path: string): void {
  repoRoot = path;
}
function repo(): string {
  if (repoRoot === undefined) throw new Error('useRepo() was not called');
  return repoRoot;
}

/** Pieces of Containerfile syntax, the tricky ones among them, so that generated text gets deep into the parser. */
const TOKENS = [
  'a',
  'b',
  'busybox',
  'scratch',
  'AS',
  'as',
  'stage',
  '/',
  '/x',
  './y',
  '..',
  '.',
  '*',
  '?',
  '"',
  "'",
  '\\',
  '`',
  '$',
  '$A',
  '${A}',
  '${A:-x}',
  '${A-x}',
  '${A:+y}',
  '${A+y}',
  '${A?oops}',
  '${A:?oops}',
  '${',
  '}',
  '${A',
  '${A:-${B:-$C}}',
  '${#A}',
  '${A%%x}',
  '${A/x/y}',
  '=',
  'A=B',
  'A="b c"',
  "A='b'",
  '[',
  ']',
  '["a"',
  '"b"]',
  '["sh", "-c", "x"]',
  '[]',
  '[1]',
  '[null]',
  ',',
  ':',
  '--from=0',
  '--from=a',
  '--from=$A',
  '--from=9',
  '--chown=1:1',
  '--chown=$A',
  '--chmod=755',
  '--chmod=x',
  '--link',
  '--parents',
  '--exclude=*.o',
  '--checksum=sha256:00',
  '--keep-git-dir=true',
  '--platform=$BUILDPLATFORM',
  '--platform=linux/arm64',
  '--mount=type=cache,target=/c',
  '--mount=type=bind,from=a,source=/s,target=/t',
  '--mount=type=tmpfs,target=/t,size=1m',
  '--mount=type=secret,id=s,required',
  '--mount=type=ssh',
  '--mount=',
  '--mount=type=nope',
  '--network=none',
  '--network=host',
  '--security=insecure',
  '--interval=5s',
  '--timeout=1h2m',
  '--start-period=-1s',
  '--retries=x',
  '--',
  '-',
  'CMD',
  'NONE',
  '<<EOF',
  '<<-EOT',
  '<<"Q"',
  "<<'R'",
  'EOF',
  'EOT',
  'Q',
  '#',
  '# escape=`',
  '# escape=\\',
  '# syntax=docker/dockerfile:1',
  '# check=skip=all',
  '80',
  '80/tcp',
  '1-2/udp',
  '65536',
  '-1',
  '99999999999999999999',
  '0x10',
  'SIGKILL',
  '9',
  'https://example.invalid/x.tar',
  'git@example.invalid:r.git',
  'root:root',
  '\u00e9',
  '\u{1f600}',
  '\ud800',
  '\0',
  '\u2028',
];
const SEPARATORS = [' ', ' ', ' ', '', '\t', '\\\n', '`\n', '\n', '\r\n', '\n\n', '\\\n#c\n'];

const instructionLine = fc
  .tuple(
    fc.constantFrom(...INSTRUCTION_NAMES, 'FOO', 'from', 'Run', 'cOpY', ''),
    fc.array(fc.tuple(fc.constantFrom(...SEPARATORS), fc.constantFrom(...TOKENS)), { maxLength: 10 }),
  )
  .map(([keyword, words]) => keyword + words.map(([sep, word]) => sep + word).join(''));

/** A word: mostly plain, sometimes one of the tricky tokens, sometimes several glued together. */
const word = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('a', 'b', 'x', '/w', 'f.txt', 'dir/', '.', '1000', 'busybox') },
  { weight: 2, arbitrary: fc.constantFrom(...TOKENS) },
  { weight: 1, arbitrary: fc.array(fc.constantFrom(...TOKENS), { minLength: 2, maxLength: 3 }).map((w) => w.join('')) },
);
const words = (min: number, max: number) => fc.array(word, { minLength: min, maxLength: max }).map((w) => w.join(' '));
const jsonWords = fc.array(word, { maxLength: 3 }).map((w) => JSON.stringify(w));
const pairs = fc
  .array(fc.tuple(fc.constantFrom('A', 'B', 'PATH', 'a_b', 'A B'), word), { minLength: 1, maxLength: 3 })
  .map((p) => p.map(([k, v]) => `${k}=${v}`).join(' '));
const flag = fc.constantFrom(...TOKENS.filter((t) => t.startsWith('--')));
const flags = fc.array(flag, { maxLength: 2 }).map((f) => f.map((x) => `${x} `).join(''));

/** An instruction with arguments of the shape it takes (most of the time), so that inputs reach expansion and planning. */
const plausibleLine: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(flags, word, fc.constantFrom('', ' AS a', ' AS b', ' as $A')).map(([f, w, as]) => `FROM ${f}${w}${as}`),
  fc.tuple(flags, fc.oneof(words(1, 4), jsonWords)).map(([f, w]) => `RUN ${f}${w}`),
  fc
    .tuple(fc.constantFrom('COPY', 'ADD'), flags, words(1, 3), word)
    .map(([k, f, src, dst]) => `${k} ${f}${src} ${dst}`),
  fc.tuple(fc.constantFrom('ENV', 'LABEL'), pairs).map(([k, p]) => `${k} ${p}`),
  fc.tuple(fc.constantFrom('ENV A', 'ARG', 'ARG A=', 'ARG B='), word).map(([k, w]) => `${k} ${w}`),
  fc
    .tuple(fc.constantFrom('WORKDIR', 'USER', 'STOPSIGNAL', 'EXPOSE', 'VOLUME', 'MAINTAINER'), words(1, 2))
    .map(([k, w]) => `${k} ${w}`),
  fc
    .tuple(fc.constantFrom('CMD', 'ENTRYPOINT', 'SHELL', 'VOLUME'), fc.oneof(jsonWords, words(1, 3)))
    .map(([k, w]) => `${k} ${w}`),
  fc
    .tuple(
      flags,
      fc.oneof(
        fc.constant('NONE'),
        jsonWords.map((j) => `CMD ${j}`),
        words(1, 2).map((w) => `CMD ${w}`),
      ),
    )
    .map(([f, w]) => `HEALTHCHECK ${f}${w}`),
  fc
    .tuple(fc.constantFrom('RUN', 'COPY a', 'ENV', 'FROM', 'ONBUILD RUN', 'LABEL', 'USER'), words(1, 2))
    .map(([k, w]) => `ONBUILD ${k} ${w}`),
  fc
    .tuple(fc.constantFrom('RUN <<EOF', 'RUN <<-EOT cat', 'COPY <<EOF /f', 'RUN cat <<A <<B'), words(0, 3))
    .map(([k, body]) => `${k}\n${body}\n${k.includes('EOT') ? '\tEOT' : k.includes('<<A') ? 'A\nB' : 'EOF'}`),
);

/** A Containerfile made of instructions, mostly starting FROM, sometimes with directives and heredoc bodies. */
const generatedContainerfile = fc
  .tuple(
    sometimes(fc.constantFrom('# escape=`\n', '# escape=\\\n', '# syntax=x\n# escape=`\n', '#escape = `\n\n'), 4),
    sometimes(fc.constantFrom('ARG A=1\n', 'ARG A\nARG B=${A:-z}\n', 'ARG BUILDPLATFORM\n'), 3),
    fc.constantFrom('FROM busybox\n', 'FROM scratch AS a\n', 'FROM $A\n', 'FROM busybox AS b\nFROM b\n', ''),
    fc.array(fc.oneof({ weight: 3, arbitrary: plausibleLine }, { weight: 1, arbitrary: instructionLine }), {
      maxLength: 12,
    }),
  )
  .map(([directive, args, from, lines]) => `${directive ?? ''}${args ?? ''}${from}${lines.join('\n')}\n`);

const mutatedContainerfile = fc.tuple(fc.nat(), fc.array(edit, { minLength: 1, maxLength: 6 })).map(([pick, edits]) => {
  const files = corpus();
  return applyEdits(Buffer.from(files[pick % files.length] as string), edits).toString('utf8');
});

interface ContainerfileInput {
  text: string;
  buildArgs: [string, string][];
  target: string | undefined;
}

export const containerfileTarget: FuzzTarget<ContainerfileInput> = {
  arbitrary: fc.record({
    text: fc.oneof(
      { weight: 4, arbitrary: generatedContainerfile },
      { weight: 4, arbitrary: mutatedContainerfile },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 400 }) },
    ),
    buildArgs: fc.array(fc.tuple(fc.constantFrom('A', 'B', 'C', 'TARGETPLATFORM'), fc.constantFrom(...TOKENS)), {
      maxLength: 3,
    }),
    target: sometimes(fc.constantFrom('a', 'b', '0', '1', '7', 'A', ''), 5),
  }),
  run({ text, buildArgs, target }) {
    // The front half of a build (src/build/executor.ts and stage.ts), without the context or a store.
    const cf = loadContainerfile(text, { file: 'Containerfile' });
    const global = new GlobalScope(new Map(buildArgs), platforms);
    const plan = planStages(cf, global, target === undefined ? {} : { target });
    const scopes = new Map<number, StageScope>();
    for (const index of plan.needed) {
      const stage = cf.stages[index];
      const base = plan.bases[index];
      if (stage === undefined || base === undefined) throw new Error('the plan names a stage that is not there');
      const scope =
        base.kind === 'stage'
          ? (scopes.get(base.index) ?? new StageScope(global)).childStage()
          : new StageScope(global, ['PATH=/usr/bin:/bin', 'A=from-image']);
      scopes.set(index, scope);
      let workdir = '/';
      let shell: string[] | undefined;
      for (const instruction of stage.instructions) {
        const step = resolveInstruction(cf, instruction, scope);
        switch (step.kind) {
          case 'ENV':
            for (const pair of step.pairs) scope.setEnv(pair.key, pair.value);
            break;
          case 'WORKDIR':
            workdir = resolveWorkdir(workdir, step.path);
            break;
          case 'SHELL':
            shell = step.shell;
            break;
          case 'RUN':
            runArgs(step, shell);
            break;
          case 'CMD':
          case 'ENTRYPOINT':
            commandArgs(step.command, shell);
            break;
          case 'ONBUILD':
            parseTrigger(step.expression, { file: 'ONBUILD', escape: cf.escape });
            break;
          default:
            break;
        }
      }
    }
  },
  accept: (error) => error instanceof HutchError || error instanceof ExpansionError,
  show: (input) => JSON.stringify(input),
};

// ---------------------------------------------------------------------------
// Layer tars: the reading side of src/image/layer/extract.ts.

interface TarEntrySpec {
  name: string;
  typeflag: string;
  mode: number;
  owner: 'own' | number;
  mtime: number;
  body: Uint8Array;
  /** The size field, when it is not the body's length. */
  sizeLie: number | undefined;
  linkname: string;
  devmajor: number;
  devminor: number;
  format: 'ustar' | 'gnu' | 'v7';
  base256: boolean;
  /** PAX records before the entry (values as bytes), or a raw PAX body. */
  pax: [string, Uint8Array | string][] | undefined;
  paxRaw: Uint8Array | undefined;
  /** GNU long name ('L') or long link ('K') before the entry. */
  longName: string | undefined;
  longLink: string | undefined;
  /** A global PAX header ('g') before the entry. */
  global: boolean;
}

interface TarInput {
  entries: TarEntrySpec[];
  /** The end-of-archive blocks: both, one, none, or followed by padding. */
  end: 'two' | 'one' | 'none' | 'padded';
  /** Bytes flipped, inserted, cut after encoding; header checksums made right again (or not) afterwards. */
  edits: Edit[];
  fixChecksums: boolean;
  /** How the bytes arrive: chunk sizes, cycled. */
  chunks: number[];
}

const ownUid = process.getuid?.() ?? 0;
const ownGid = process.getgid?.() ?? 0;

const segment = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'a',
      'b',
      'dir',
      'etc',
      '.',
      '..',
      '',
      '.wh.a',
      '.wh.b',
      '.wh..wh..opq',
      '.wh..wh.plnk',
      '.wh.',
      'ünï',
      'a\0b',
      '\n',
      'x'.repeat(100),
      'y'.repeat(256),
      '\ufffd',
    ),
  },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 10 }) },
);
const entryName = fc
  .tuple(
    fc.constantFrom('', '', '/', './', '../'),
    fc.array(segment, { minLength: 1, maxLength: 4 }),
    fc.constantFrom('', '', '/'),
  )
  .map(([lead, parts, trail]) => lead + parts.join('/') + trail);

const tarEntry: fc.Arbitrary<TarEntrySpec> = fc.record({
  name: entryName,
  typeflag: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('0', '5', '2', '1', '0', '5') },
    { weight: 2, arbitrary: fc.constantFrom('\0', '7', '3', '4', '6', 'x', 'g', 'L', 'K', 'S', 'V', 'Z', 'D', '9') },
  ),
  mode: fc.oneof(fc.constantFrom(0o644, 0o755, 0o700, 0o4755, 0o1777, 0), fc.integer({ min: 0, max: 0o7777 })),
  owner: fc.oneof({ weight: 5, arbitrary: fc.constant<'own'>('own') }, { weight: 1, arbitrary: fc.nat(0o7777777) }),
  mtime: fc.oneof(
    { weight: 4, arbitrary: fc.constant(1_700_000_000) },
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 0o77777777777 }) },
    { weight: 1, arbitrary: fc.constantFrom(2 ** 53, 2 ** 60, 2 ** 70, 2 ** 87) },
  ),
  body: fc.uint8Array({ maxLength: 700 }),
  sizeLie: sometimes(fc.oneof(fc.nat(2000), fc.constant(0o77777777777)), 12),
  linkname: entryName,
  devmajor: fc.nat(300),
  devminor: fc.nat(300),
  format: fc.constantFrom('ustar', 'ustar', 'gnu', 'v7'),
  base256: fc.boolean(),
  pax: sometimes(
    fc.array(
      fc.tuple(
        fc.constantFrom(
          'path',
          'linkpath',
          'size',
          'uid',
          'gid',
          'mtime',
          'atime',
          'SCHILY.xattr.user.fuzz',
          'SCHILY.xattr.security.capability',
          'SCHILY.xattr.trusted.overlay.opaque',
          'SCHILY.xattr.',
          'GNU.sparse.major',
          'comment',
          '',
        ),
        fc.oneof(
          fc.constantFrom(
            '1',
            '0',
            '-1',
            '1e999',
            '1e300',
            '-1e300',
            '1e15',
            'NaN',
            '1.5',
            '0x10',
            '99999999999999999999',
            ' 7',
            'a/b',
            '../x',
            '',
          ),
          fc.uint8Array({ maxLength: 24 }),
        ),
      ),
      { maxLength: 4 },
    ),
    3,
  ),
  paxRaw: sometimes(fc.uint8Array({ maxLength: 64 }), 40),
  longName: sometimes(entryName, 8),
  longLink: sometimes(entryName, 10),
  global: fc.nat(9).map((n) => n === 0),
});

const BLOCK = 512;

interface Encoded {
  bytes: Buffer;
  /** Offsets of the header blocks, for checksums made right after edits. */
  headers: number[];
}

function setChecksum(block: Buffer, at: number): void {
  block.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = at; i < at + BLOCK; i++) sum += block[i] as number;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, at + 148, 8, 'latin1');
}

function header(fields: {
  name: string;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  format: 'ustar' | 'gnu' | 'v7';
  base256: boolean;
}): Buffer {
  const block = Buffer.alloc(BLOCK);
  const number = (value: number, at: number, length: number) =>
    writeTarNumber(block, value, at, length, fields.base256 || value >= 8 ** (length - 1));
  const name = Buffer.from(fields.name);
  name.copy(block, 0, 0, Math.min(100, name.length));
  // ustar's prefix field takes what the name field cannot.
  if (fields.format === 'ustar' && name.length > 100) name.copy(block, 345, 100, Math.min(255, name.length));
  number(fields.mode, 100, 8);
  number(fields.uid, 108, 8);
  number(fields.gid, 116, 8);
  number(fields.size, 124, 12);
  number(fields.mtime, 136, 12);
  block.write(fields.typeflag, 156, 1, 'latin1');
  Buffer.from(fields.linkname).copy(block, 157, 0, 100);
  if (fields.format === 'ustar') block.write('ustar\u000000', 257, 8, 'latin1');
  if (fields.format === 'gnu') block.write('ustar  \0', 257, 8, 'latin1');
  if (fields.format !== 'v7') {
    number(fields.devmajor, 329, 8);
    number(fields.devminor, 337, 8);
  }
  setChecksum(block, 0);
  return block;
}

const padded = (body: Uint8Array) =>
  Buffer.concat([Buffer.from(body), Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK)]);

function paxBody(records: [string, Uint8Array | string][]): Buffer {
  return Buffer.concat(
    records.map(([key, value]) => {
      const rest = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
      let length = rest.length + 1;
      while (String(length).length + rest.length !== length) length = String(length).length + rest.length;
      return Buffer.concat([Buffer.from(String(length)), rest]);
    }),
  );
}

function encodeTar(input: TarInput): Encoded {
  const parts: Buffer[] = [];
  const headers: number[] = [];
  let offset = 0;
  const push = (bytes: Buffer, isHeader: boolean) => {
    if (isHeader) headers.push(offset);
    parts.push(bytes);
    offset += bytes.length;
  };
  const meta = (typeflag: string, body: Buffer) => {
    push(
      header({
        name: 'meta',
        typeflag,
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: body.length,
        mtime: 0,
        linkname: '',
        devmajor: 0,
        devminor: 0,
        format: 'ustar',
        base256: false,
      }),
      true,
    );
    push(padded(body), false);
  };
  for (const e of input.entries) {
    if (e.global) meta('g', paxBody([['comment', Buffer.from('global')]]));
    if (e.longName !== undefined) meta('L', Buffer.concat([Buffer.from(e.longName), Buffer.alloc(1)]));
    if (e.longLink !== undefined) meta('K', Buffer.concat([Buffer.from(e.longLink), Buffer.alloc(1)]));
    if (e.paxRaw !== undefined) meta('x', Buffer.from(e.paxRaw));
    else if (e.pax !== undefined) meta('x', paxBody(e.pax));
    const uid = e.owner === 'own' ? ownUid : e.owner;
    const gid = e.owner === 'own' ? ownGid : e.owner;
    push(
      header({
        name: e.name,
        typeflag: e.typeflag,
        mode: e.mode,
        uid,
        gid,
        size: e.sizeLie ?? e.body.length,
        mtime: e.mtime,
        linkname: e.linkname,
        devmajor: e.devmajor,
        devminor: e.devminor,
        format: e.format,
        base256: e.base256,
      }),
      true,
    );
    push(padded(e.body), false);
  }
  if (input.end === 'two') push(Buffer.alloc(2 * BLOCK), false);
  if (input.end === 'one') push(Buffer.alloc(BLOCK), false);
  if (input.end === 'padded') push(Buffer.alloc(10 * BLOCK), false);
  return { bytes: Buffer.concat(parts), headers };
}

/** The tar's bytes: encoded, edited, checksums made right again where asked. */
export function tarBytes(input: TarInput): Buffer {
  const { bytes, headers } = encodeTar(input);
  if (input.edits.length === 0) return bytes;
  const edited = applyEdits(bytes, input.edits);
  if (input.fixChecksums) {
    for (const at of headers) if (at + BLOCK <= edited.length && at % BLOCK === 0) setChecksum(edited, at);
  }
  return edited;
}

/** Makes every directory below `dir` ours to enter and empty again, then removes it. */
function removeTree(dir: string): void {
  const open = (path: string) => {
    let st;
    try {
      st = lstatSync(path);
    } catch {
      return;
    }
    if (!st.isDirectory()) return;
    try {
      chmodSync(path, 0o700);
    } catch {
      return;
    }
    for (const name of readdirSync(path)) open(join(path, name));
  };
  open(dir);
  rmSync(dir, { recursive: true, force: true });
}

let scratch: string | undefined;

/**
 * What the kernel may refuse whatever the reader does right: chown to an id an
 * unprivileged user outside a user namespace may not give (EPERM), an xattr
 * this file system or user may not set (EPERM, ENOTSUP, E2BIG, ERANGE), a name
 * too long for it, the disk full. Any other errno (EINVAL from a value the
 * reader passed on unchecked, ENOENT or ELOOP from a path it got wrong) is a bug.
 */
const ENVIRONMENT_ERRNOS = new Set([
  'EPERM',
  'EACCES',
  'ENOTSUP',
  'EOPNOTSUPP',
  'E2BIG',
  'ERANGE',
  'ENAMETOOLONG',
  'ENOSPC',
  'EDQUOT',
  'EMLINK',
]);

/** A system call the kernel refused for one of those reasons (Node's fs errors, SyscallError). */
function systemError(error: unknown): boolean {
  const e = error as { errno?: unknown; syscall?: unknown; code?: unknown };
  return (
    error instanceof Error &&
    typeof e.errno === 'number' &&
    typeof e.syscall === 'string' &&
    typeof e.code === 'string' &&
    ENVIRONMENT_ERRNOS.has(e.code)
  );
}

export const tarTarget: FuzzTarget<TarInput> = {
  arbitrary: fc.record({
    entries: fc.array(tarEntry, { minLength: 0, maxLength: 6 }),
    end: fc.constantFrom('two', 'two', 'one', 'none', 'padded'),
    edits: fc.oneof(
      { weight: 2, arbitrary: fc.constant<Edit[]>([]) },
      { weight: 1, arbitrary: fc.array(edit, { minLength: 1, maxLength: 4 }) },
    ),
    fixChecksums: fc.boolean(),
    chunks: fc.array(fc.integer({ min: 1, max: 1500 }), { minLength: 1, maxLength: 4 }),
  }),
  async run(input) {
    scratch ??= mkdtempSync(join(tmpdir(), 'hutch-fuzz-tar-'));
    const dir = mkdtempSync(join(scratch, 'run-'));
    const target = join(dir, 'target');
    mkdirSync(target);
    const bytes = tarBytes(input);
    const chunks: Buffer[] = [];
    for (let at = 0, i = 0; at < bytes.length; i++) {
      const size = input.chunks[i % input.chunks.length] as number;
      chunks.push(bytes.subarray(at, at + size));
      at += size;
    }
    try {
      await extractLayer(Readable.from(chunks), target, { userXattrs: true });
    } finally {
      // Whatever the tar said, nothing may appear next to the target.
      const beside = readdirSync(dir);
      removeTree(dir);
      if (beside.length !== 1 || beside[0] !== 'target') {
        // eslint-disable-next-line no-unsafe-finally -- the escape matters more than the error it replaces
        throw new Error(`the layer wrote outside its target: ${beside.join(', ')}`);
      }
    }
  },
  // The tar's own refusals, or the kernel's (a name too long for the file system, chown to another user's
  // id as an unprivileged user outside a user namespace): never a crash of the reader.
  accept: (error) => hutchError(error) || systemError(error),
  show: (input) => `${JSON.stringify({ ...input, entries: input.entries.length })}\n${hex(tarBytes(input))}`,
};

// ---------------------------------------------------------------------------
// Manifests, indexes, configs: src/image/manifest.ts, and what pull does with them first.

const digest = fc.oneof(
  { weight: 10, arbitrary: fc.constant(`sha256:${'a'.repeat(64)}`) },
  { weight: 1, arbitrary: fc.constantFrom(`sha512:${'b'.repeat(128)}`, 'sha256:abc', 'md5:x', '', 'sha256:') },
);
const anyJson = fc.jsonValue({ maxDepth: 2 });
/** A JSON value at this place of a document, or an arbitrary one instead. */
const or = <T>(good: fc.Arbitrary<T>) =>
  fc.oneof(
    { weight: 40, arbitrary: good as fc.Arbitrary<unknown> },
    { weight: 1, arbitrary: anyJson },
    { weight: 1, arbitrary: fc.constant(null) },
  );
const optional = <T>(value: fc.Arbitrary<T>) => sometimes(value, 2);

const platform = or(
  fc.record(
    {
      os: or(fc.constantFrom('linux', 'windows', 'unknown')),
      architecture: or(fc.constantFrom('amd64', 'arm64', 'unknown')),
      variant: optional(or(fc.constantFrom('v8', 'v7', ''))),
    },
    { requiredKeys: ['os', 'architecture'] },
  ),
);
const descriptor = or(
  fc.record(
    {
      mediaType: or(fc.constantFrom(...Object.values(MediaType), 'text/plain', '')),
      digest: or(digest),
      size: or(
        fc.oneof(
          { weight: 8, arbitrary: fc.nat() },
          { weight: 1, arbitrary: fc.constantFrom(-1, 1.5, 2 ** 53, Number.MAX_VALUE) },
        ),
      ),
      platform: optional(platform),
      annotations: optional(or(fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 })))),
      urls: optional(or(fc.array(fc.string({ maxLength: 8 }), { maxLength: 2 }))),
    },
    { requiredKeys: ['mediaType', 'digest', 'size'] },
  ),
);
const manifestDoc = fc.record(
  {
    schemaVersion: or(fc.constant(2)),
    mediaType: optional(or(fc.constantFrom(MediaType.ociManifest, MediaType.dockerManifest, MediaType.ociIndex))),
    config: or(descriptor),
    layers: or(fc.array(descriptor, { maxLength: 4 })),
    manifests: optional(or(fc.array(descriptor, { maxLength: 4 }))),
    subject: optional(descriptor),
  },
  { requiredKeys: ['schemaVersion', 'config', 'layers'] },
);
const indexDoc = fc.record(
  {
    schemaVersion: or(fc.constant(2)),
    mediaType: optional(or(fc.constantFrom(MediaType.ociIndex, MediaType.dockerManifestList))),
    manifests: or(fc.array(descriptor, { maxLength: 5 })),
  },
  { requiredKeys: ['schemaVersion', 'manifests'] },
);

/** A document's bytes: generated JSON, or good JSON damaged, or bytes that are no JSON at all. */
const documentBytes = (documents: fc.Arbitrary<unknown>) =>
  fc.oneof(
    { weight: 6, arbitrary: documents.map((d) => Buffer.from(JSON.stringify(d) ?? 'null')) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(documents, fc.array(edit, { minLength: 1, maxLength: 3 }))
        .map(([d, edits]) => applyEdits(Buffer.from(JSON.stringify(d) ?? 'null'), edits)),
    },
    { weight: 1, arbitrary: anyJson.map((j) => Buffer.from(JSON.stringify(j))) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
  );

interface DocumentInput {
  body: Buffer;
  mediaType: string | undefined;
}

export const manifestTarget: FuzzTarget<DocumentInput> = {
  arbitrary: fc.record({
    body: documentBytes(fc.oneof(manifestDoc, indexDoc)),
    mediaType: fc.option(fc.constantFrom(...Object.values(MediaType), 'application/json'), { nil: undefined }),
  }),
  run({ body, mediaType }) {
    // What pull (src/image/pull.ts resolveManifest) does with a registry's answer before it fetches anything else.
    const document = parseManifestDocument(body, mediaType, 'fuzz');
    if (document.kind === 'index') {
      for (const m of document.index.manifests) formatPlatform(m.platform);
      selectManifest(document.index, { os: 'linux', architecture: 'arm64', variant: 'v8' }, 'fuzz');
      return;
    }
    const manifest = document.manifest;
    manifestMediaType(manifest, mediaType).toLowerCase();
    for (const layer of manifest.layers) layerCompression(layer.mediaType);
    // The descriptors as oci.ts types them: what pull, push and artifact read of them.
    for (const d of [
      manifest.config,
      ...manifest.layers,
      ...(manifest.subject === undefined ? [] : [manifest.subject]),
    ]) {
      d.digest.split(':');
      d.mediaType.toLowerCase();
      for (const value of Object.values(d.annotations ?? {})) value.toLowerCase();
      (d.urls ?? []).map((u) => u.toLowerCase());
      formatPlatform(d.platform).toLowerCase();
    }
    for (const value of Object.values(manifest.annotations ?? {})) value.toLowerCase();
  },
  accept: hutchError,
  show: (input) => JSON.stringify({ mediaType: input.mediaType, body: input.body.toString('latin1') }),
};

const configDoc = fc.record(
  {
    architecture: or(fc.constant('amd64')),
    os: or(fc.constant('linux')),
    rootfs: or(
      fc.record(
        { type: or(fc.constant('layers')), diff_ids: or(fc.array(or(digest), { maxLength: 3 })) },
        { requiredKeys: ['type', 'diff_ids'] },
      ),
    ),
    created: optional(or(fc.constant('2024-01-01T00:00:00Z'))),
    config: optional(
      or(
        fc.record(
          {
            Env: or(fc.array(or(fc.string({ maxLength: 6 })), { maxLength: 2 })),
            Cmd: or(fc.array(or(fc.constant('sh')), { maxLength: 2 })),
            Entrypoint: or(fc.constant(['/bin/sh', '-c'])),
            OnBuild: or(fc.constant(['RUN true'])),
            Shell: or(fc.constant(['/bin/sh', '-c'])),
            Labels: or(fc.dictionary(fc.string({ maxLength: 4 }), or(fc.string({ maxLength: 4 })))),
            ExposedPorts: or(fc.constant({ '80/tcp': {} })),
            Volumes: or(fc.constant({ '/data': {} })),
            User: or(fc.constant('1000')),
            WorkingDir: or(fc.constant('/w')),
            StopSignal: or(fc.constant('SIGTERM')),
            Healthcheck: or(
              fc.record({ Test: or(fc.constant(['CMD', 'true'])), Interval: or(fc.nat()) }, { requiredKeys: [] }),
            ),
          },
          { requiredKeys: [] },
        ),
      ),
    ),
    history: optional(
      or(
        fc.array(
          or(fc.record({ created_by: or(fc.constant('RUN x')), empty_layer: or(fc.boolean()) }, { requiredKeys: [] })),
          { maxLength: 2 },
        ),
      ),
    ),
  },
  { requiredKeys: ['architecture', 'os', 'rootfs'] },
);

/** As many layers as the config lists (what a consistent manifest says), or another count. */
function layerCount(body: Buffer, layers: number | 'as listed'): number {
  if (layers !== 'as listed') return layers;
  try {
    const listed = (JSON.parse(body.toString('utf8')) as { rootfs?: { diff_ids?: unknown[] } }).rootfs?.diff_ids;
    return Array.isArray(listed) ? listed.length : 0;
  } catch {
    return 0;
  }
}

export const configTarget: FuzzTarget<{ body: Buffer; layers: number | 'as listed' }> = {
  arbitrary: fc.record({
    body: documentBytes(configDoc),
    layers: fc.oneof(
      { weight: 4, arbitrary: fc.constant<'as listed'>('as listed') },
      { weight: 1, arbitrary: fc.nat(3) },
    ),
  }),
  run({ body, layers }) {
    const config = parseImageConfig(body, layerCount(body, layers), 'fuzz');
    for (const id of config.rootfs.diff_ids) id.split(':');
    // The fields as oci.ts types them: what run, build and inspect read of them.
    const c = config.config ?? {};
    (c.Env ?? []).map((e) => e.indexOf('='));
    (c.Cmd ?? []).join(' ');
    (c.Entrypoint ?? []).join(' ');
    (c.OnBuild ?? []).join(' ');
    (c.Shell ?? []).join(' ');
    (c.Healthcheck?.Test ?? []).join(' ');
    for (const value of Object.values(c.Labels ?? {})) value.toLowerCase();
    Object.keys(c.ExposedPorts ?? {});
    Object.keys(c.Volumes ?? {});
    [c.User, c.WorkingDir, c.StopSignal, config.created, config.os, config.architecture].map((v) => v?.toLowerCase());
    for (const h of config.history ?? []) [h.created, h.created_by, h.comment].map((v) => v?.toLowerCase());
  },
  accept: hutchError,
  show: (input) => JSON.stringify({ layers: input.layers, body: input.body.toString('latin1') }),
};

/** Targets with a bug planted, for test/fuzz/harness.test.ts: the harness must report each. */
const planted: Record<string, FuzzTarget<number>> = {
  'planted-crash': {
    arbitrary: fc.nat(1000),
    run: (n) => {
      if (n > 500) (undefined as unknown as { x: number }).x.toFixed();
      if (n === 1) throw new HutchError('a clean refusal');
    },
    accept: hutchError,
    show: String,
  },
  'planted-hang': {
    arbitrary: fc.nat(1000),
    run: (n) => {
      // Synchronous: fast-check's own timeout cannot interrupt it, only the watchdog can.
      while (n > 500) n += 0;
    },
    accept: hutchError,
    show: String,
  },
};

export const targets: Record<string, FuzzTarget> = {
  containerfile: containerfileTarget as FuzzTarget,
  tar: tarTarget as FuzzTarget,
  manifest: manifestTarget as FuzzTarget,
  config: configTarget as FuzzTarget,
  ...(planted as Record<string, FuzzTarget>),
};

/** Removes what the tar target left in the tmp dir (the worker calls it when done). */
export function disposeTargets(): void {
  if (scratch !== undefined) removeTree(scratch);
  scratch = undefined;
}
