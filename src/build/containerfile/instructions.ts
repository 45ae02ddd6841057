/**
 * Instructions as typed, validated objects, and what the executor needs to
 * act on them: the stages and the graph between them (which stages a
 * --target needs, which can be built in parallel), and the expansion of each
 * instruction's words in the scope of the step it runs in.
 *
 * Parsing checks everything that does not depend on variables (flags, forms,
 * port and duration syntax, stage names); what does is checked when the
 * executor expands the instruction (resolveInstruction). Both throw
 * BuildfileError with file, line and column. Semantics follow Docker's
 * reference and BuildKit's dockerfile frontend; docs/containerfile.md lists
 * where hutch differs.
 */
import { posix } from 'node:path';
import { HutchError } from '../../errors.js';
import type { ContainerfileAst, HeredocNode, InstructionNode, Position } from './ast.js';
import {
  expand,
  expandHeredoc,
  ExpansionError,
  type EscapeChar,
  type GlobalScope,
  type StageScope,
  type Variables,
} from './expand.js';
import {
  chompHeredoc,
  parseHeredocWord,
  parseJsonArray,
  parseQuotedWords,
  splitWhitespace,
  type Word,
} from './lexer.js';
import { BuildfileError, parseContainerfile } from './parser.js';

/** Text as written in the Containerfile (not yet expanded) and where it starts. */
export interface Text {
  text: string;
  position: Position;
}

/** `["a","b"]` (exec form, no shell) or `a b` (shell form: the SHELL runs it). */
export type CommandLine<S = Text> = { form: 'exec'; args: S[] } | { form: 'shell'; command: S };

interface Common {
  /** The syntax node: position, original text, comments. */
  node: InstructionNode;
}

export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';

/** A RUN --mount, fields as BuildKit names them; values are expanded in the step's scope. */
export interface Mount<S = Text> {
  type: MountType;
  /** The whole flag value, for messages. */
  spec: Text;
  target?: S;
  source?: S;
  from?: S;
  id?: S;
  /** cache: shared (default), private, locked. */
  sharing?: 'shared' | 'private' | 'locked';
  readonly?: boolean;
  required?: boolean;
  /** Octal file mode (cache, secret, ssh). */
  mode?: S;
  uid?: S;
  gid?: S;
  /** tmpfs size, as written (`64m`). */
  size?: S;
  /** secret: the environment variable to expose it as. */
  env?: S;
}

export interface FromInstruction extends Common {
  kind: 'FROM';
  /** The base: an image reference, `scratch`, or an earlier stage's name (expanded in the global scope). */
  image: Text;
  /** The stage's name from `AS name`, lower case. */
  stageName: string | undefined;
  platform: Text | undefined;
}

export interface RunFields<S> {
  command: CommandLine<S>;
  heredocs: HeredocNode[];
  mounts: Mount<S>[];
  network: 'default' | 'none' | 'host' | undefined;
  security: 'sandbox' | 'insecure' | undefined;
}
export type RunInstruction = Common & { kind: 'RUN' } & RunFields<Text>;

/** A COPY/ADD source written inline as a heredoc: `COPY <<EOF /file`. */
export interface InlineSource {
  /** The heredoc's name, which is also the file name when the destination is a directory. */
  name: string;
  /** The body; leading tabs already stripped for `<<-`. */
  content: string;
  /** Whether variables in the body are expanded (the delimiter was not quoted). */
  expand: boolean;
}

export interface CopyFields<S> {
  sources: S[];
  inline: InlineSource[];
  dest: S;
  chown: S | undefined;
  chmod: S | undefined;
  link: boolean;
  excludes: S[];
}
export type CopyInstruction = Common & { kind: 'COPY'; from: Text | undefined; parents: boolean } & CopyFields<Text>;
export type AddInstruction = Common & {
  kind: 'ADD';
  checksum: Text | undefined;
  keepGitDir: boolean;
  unpack: boolean | undefined;
} & CopyFields<Text>;

export interface KeyValue<S = Text> {
  key: S;
  value: S;
}

export type EnvInstruction = Common & { kind: 'ENV'; pairs: KeyValue[] };
export type LabelInstruction = Common & { kind: 'LABEL'; pairs: KeyValue[] };
export type ArgInstruction = Common & { kind: 'ARG'; args: { name: string; default: Text | undefined }[] };
export type WorkdirInstruction = Common & { kind: 'WORKDIR'; path: Text };
export type UserInstruction = Common & { kind: 'USER'; user: Text };
export type StopSignalInstruction = Common & { kind: 'STOPSIGNAL'; signal: Text };
export type ExposeInstruction = Common & { kind: 'EXPOSE'; ports: Text[] };
export type VolumeInstruction = Common & { kind: 'VOLUME'; paths: Text[] };
export type CmdInstruction = Common & { kind: 'CMD'; command: CommandLine };
export type EntrypointInstruction = Common & { kind: 'ENTRYPOINT'; command: CommandLine };
export type ShellInstruction = Common & { kind: 'SHELL'; shell: string[] };
export type MaintainerInstruction = Common & { kind: 'MAINTAINER'; maintainer: string };

/** Durations in nanoseconds, as the image config stores them. */
export interface Healthcheck {
  /** `["NONE"]`, `["CMD", …args]` or `["CMD-SHELL", command]`, as the image config stores it. */
  test: string[];
  interval?: number;
  timeout?: number;
  startPeriod?: number;
  startInterval?: number;
  retries?: number;
}
export type HealthcheckInstruction = Common & { kind: 'HEALTHCHECK'; healthcheck: Healthcheck };

export type OnbuildInstruction = Common & {
  kind: 'ONBUILD';
  /** What goes into the image config's OnBuild list. */
  expression: string;
  /** The trigger, parsed and checked now. */
  trigger: Instruction;
};

export type Instruction =
  | RunInstruction
  | CopyInstruction
  | AddInstruction
  | EnvInstruction
  | LabelInstruction
  | ArgInstruction
  | WorkdirInstruction
  | UserInstruction
  | StopSignalInstruction
  | ExposeInstruction
  | VolumeInstruction
  | CmdInstruction
  | EntrypointInstruction
  | ShellInstruction
  | HealthcheckInstruction
  | OnbuildInstruction
  | MaintainerInstruction;

export interface Stage {
  index: number;
  /** From `AS name`, lower case. */
  name: string | undefined;
  from: FromInstruction;
  instructions: Instruction[];
}

/** A Containerfile turned into stages. */
export interface Containerfile {
  file: string;
  escape: EscapeChar;
  ast: ContainerfileAst;
  /** ARGs before the first FROM. */
  globalArgs: ArgInstruction[];
  stages: Stage[];
  /** Things that build but deserve a line (ignored flags, empty continuation lines). */
  warnings: { position: Position; message: string }[];
}

export const INSTRUCTION_NAMES = [
  'ADD',
  'ARG',
  'CMD',
  'COPY',
  'ENTRYPOINT',
  'ENV',
  'EXPOSE',
  'FROM',
  'HEALTHCHECK',
  'LABEL',
  'MAINTAINER',
  'ONBUILD',
  'RUN',
  'SHELL',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
] as const;

/** The shell of shell-form commands until a SHELL instruction changes it. */
export const DEFAULT_SHELL: readonly string[] = ['/bin/sh', '-c'];

// ---------------------------------------------------------------------------
// Flags.

type FlagKind = 'string' | 'bool' | 'list';

const FLAGS: Record<string, Record<string, FlagKind>> = {
  FROM: { platform: 'string' },
  RUN: { mount: 'list', network: 'string', security: 'string' },
  COPY: { from: 'string', chown: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'list' },
  ADD: {
    chown: 'string',
    chmod: 'string',
    link: 'bool',
    checksum: 'string',
    'keep-git-dir': 'bool',
    exclude: 'list',
    unpack: 'bool',
  },
  HEALTHCHECK: {
    interval: 'string',
    timeout: 'string',
    'start-period': 'string',
    'start-interval': 'string',
    retries: 'string',
  },
};

interface Flags {
  string(name: string): Text | undefined;
  bool(name: string): boolean | undefined;
  list(name: string): Text[];
}

class Parser {
  readonly warnings: { position: Position; message: string }[] = [];

  constructor(
    readonly file: string,
    readonly escape: EscapeChar,
  ) {}

  fail(position: Position, reason: string): never {
    throw new BuildfileError(this.file, position, reason);
  }

  /** BuildKit's BFlags: known names only, each once (lists repeat), booleans true/false, strings need a value. */
  flags(node: InstructionNode, allowed: Record<string, FlagKind> = {}): Flags {
    const strings = new Map<string, Text>();
    const bools = new Map<string, boolean>();
    const lists = new Map<string, Text[]>();
    for (const flag of node.flags) {
      const kind = allowed[flag.name];
      if (kind === undefined) this.fail(flag.position, `unknown flag: ${flag.name}`);
      if (kind !== 'list' && (strings.has(flag.name) || bools.has(flag.name))) {
        this.fail(flag.position, `Duplicate flag specified: ${flag.name}`);
      }
      if (kind === 'bool') {
        const value = (flag.value ?? 'true').toLowerCase();
        if (value !== 'true' && value !== 'false') {
          this.fail(flag.valuePosition, `expecting boolean value for flag ${flag.name}, not: ${flag.value}`);
        }
        bools.set(flag.name, value === 'true');
        continue;
      }
      if (flag.value === undefined) this.fail(flag.position, `Missing a value on flag: ${flag.name}`);
      const text = { text: flag.value, position: flag.valuePosition };
      if (kind === 'list') lists.set(flag.name, [...(lists.get(flag.name) ?? []), text]);
      else strings.set(flag.name, text);
    }
    return {
      string: (name) => strings.get(name),
      bool: (name) => bools.get(name),
      list: (name) => lists.get(name) ?? [],
    };
  }

  text(node: InstructionNode, word: Word): Text {
    return { text: word.text, position: node.positionAt(word.offset) };
  }

  /** The whole rest as one argument (USER, WORKDIR, STOPSIGNAL, MAINTAINER). */
  single(node: InstructionNode): Text {
    if (node.rest === '') this.fail(node.position, `${node.name} requires exactly one argument`);
    return { text: node.rest, position: node.restPosition };
  }

  commandLine(node: InstructionNode, allowEmptyJson: boolean): CommandLine {
    const json = parseJsonArray(node.rest);
    if (json.kind === 'json') {
      if (!allowEmptyJson && json.values.length === 0) {
        this.fail(node.restPosition, `${node.name} requires at least one argument`);
      }
      return { form: 'exec', args: json.values.map((w) => this.text(node, w)) };
    }
    if (json.kind === 'not-strings') {
      this.fail(node.positionAt(json.offset), 'when using JSON array syntax, arrays must be comprised of strings only');
    }
    if (node.rest === '') this.fail(node.position, `${node.name} requires at least one argument`);
    return { form: 'shell', command: { text: node.rest, position: node.restPosition } };
  }

  /** JSON array, or words split at white space (COPY, ADD, VOLUME). */
  list(node: InstructionNode): Text[] {
    const json = parseJsonArray(node.rest);
    if (json.kind === 'json') return json.values.map((w) => this.text(node, w));
    return splitWhitespace(node.rest).map((w) => this.text(node, w));
  }

  /** ENV and LABEL: `key value` (old form, one pair) or `k=v k2="v 2"`. */
  pairs(node: InstructionNode): KeyValue[] {
    const words = parseQuotedWords(node.rest, this.escape);
    if (words.length === 0) this.fail(node.position, `${node.name} requires at least one argument`);
    const first = words[0] as Word;
    if (!first.text.includes('=')) {
      const m = /[\t\v\f\r ]+/.exec(node.rest);
      if (m === null) this.fail(node.restPosition, `${node.name} must have two arguments`);
      const key = node.rest.slice(0, m.index);
      const valueOffset = m.index + m[0].length;
      this.warnings.push({
        position: node.position,
        message: `"${node.name} key value" is a legacy form; prefer "${node.name} key=value"`,
      });
      return [
        {
          key: { text: key, position: node.restPosition },
          value: { text: node.rest.slice(valueOffset), position: node.positionAt(valueOffset) },
        },
      ];
    }
    return words.map((word) => {
      const eq = word.text.indexOf('=');
      if (eq < 0) {
        this.fail(
          node.positionAt(word.offset),
          `Syntax error - can't find = in ${JSON.stringify(word.text)}. Must be of the form: name=value`,
        );
      }
      if (eq === 0) this.fail(node.positionAt(word.offset), `${node.name} names can not be blank`);
      return {
        key: { text: word.text.slice(0, eq), position: node.positionAt(word.offset) },
        value: { text: word.text.slice(eq + 1), position: node.positionAt(word.offset + eq + 1) },
      };
    });
  }

  instruction(node: InstructionNode, inOnbuild = false): Instruction | FromInstruction {
    switch (node.name) {
      case 'FROM':
        return this.from(node);
      case 'RUN':
        return this.run(node);
      case 'COPY':
      case 'ADD':
        return this.copy(node);
      case 'ENV':
        this.flags(node);
        return { kind: 'ENV', node, pairs: this.pairs(node) };
      case 'LABEL':
        this.flags(node);
        return { kind: 'LABEL', node, pairs: this.pairs(node) };
      case 'ARG':
        return this.arg(node);
      case 'WORKDIR':
        this.flags(node);
        return { kind: 'WORKDIR', node, path: this.single(node) };
      case 'USER':
        this.flags(node);
        return { kind: 'USER', node, user: this.single(node) };
      case 'STOPSIGNAL': {
        this.flags(node);
        const signal = this.single(node);
        if (!signal.text.includes('$')) checkSignal(signal.text, (r) => this.fail(signal.position, r));
        return { kind: 'STOPSIGNAL', node, signal };
      }
      case 'EXPOSE': {
        this.flags(node);
        const ports = splitWhitespace(node.rest).map((w) => this.text(node, w));
        if (ports.length === 0) this.fail(node.position, 'EXPOSE requires at least one argument');
        for (const port of ports) {
          if (!port.text.includes('$')) parsePorts(port.text, (r) => this.fail(port.position, r));
        }
        return { kind: 'EXPOSE', node, ports };
      }
      case 'VOLUME': {
        this.flags(node);
        const paths = this.list(node);
        if (paths.length === 0) this.fail(node.position, 'VOLUME requires at least one argument');
        for (const p of paths) {
          if (p.text.trim() === '') this.fail(p.position, 'VOLUME specified can not be an empty string');
        }
        return { kind: 'VOLUME', node, paths };
      }
      case 'CMD':
        this.flags(node);
        return { kind: 'CMD', node, command: this.commandLine(node, true) };
      case 'ENTRYPOINT':
        this.flags(node);
        return { kind: 'ENTRYPOINT', node, command: this.commandLine(node, true) };
      case 'SHELL': {
        this.flags(node);
        const json = parseJsonArray(node.rest);
        if (json.kind !== 'json') {
          this.fail(node.restPosition, `SHELL requires the arguments to be in JSON form: ${node.original}`);
        }
        if (json.values.length === 0) this.fail(node.restPosition, 'SHELL requires at least one argument');
        return { kind: 'SHELL', node, shell: json.values.map((w) => w.text) };
      }
      case 'HEALTHCHECK':
        return this.healthcheck(node);
      case 'MAINTAINER':
        this.flags(node);
        return { kind: 'MAINTAINER', node, maintainer: this.single(node).text };
      case 'ONBUILD':
        return this.onbuild(node, inOnbuild);
      default:
        this.fail(node.position, `unknown instruction: ${node.keyword}${suggestion(node.name)}`);
    }
  }

  from(node: InstructionNode): FromInstruction {
    const flags = this.flags(node, FLAGS.FROM);
    const words = splitWhitespace(node.rest);
    let stageName: string | undefined;
    if (words.length === 3 && (words[1] as Word).text.toLowerCase() === 'as') {
      const name = words[2] as Word;
      stageName = name.text.toLowerCase();
      if (!/^[a-z][a-z0-9-_.]*$/.test(stageName)) {
        this.fail(
          node.positionAt(name.offset),
          `invalid name for build stage: ${JSON.stringify(name.text)}, name can't start with a number or contain symbols`,
        );
      }
    } else if (words.length !== 1) {
      this.fail(node.restPosition, 'FROM requires either one or three arguments');
    }
    return {
      kind: 'FROM',
      node,
      image: this.text(node, words[0] as Word),
      stageName,
      platform: flags.string('platform'),
    };
  }

  run(node: InstructionNode): RunInstruction {
    const flags = this.flags(node, FLAGS.RUN);
    const mounts = flags.list('mount').map((spec) => parseMount(spec, (p, r) => this.fail(p, r)));
    const network = flags.string('network');
    if (network !== undefined && !['default', 'none', 'host'].includes(network.text)) {
      this.fail(network.position, `unsupported network mode ${JSON.stringify(network.text)}: default, none or host`);
    }
    const security = flags.string('security');
    if (security !== undefined && !['sandbox', 'insecure'].includes(security.text)) {
      this.fail(security.position, `unsupported security mode ${JSON.stringify(security.text)}: sandbox or insecure`);
    }
    const command = this.commandLine(node, true);
    return {
      kind: 'RUN',
      node,
      command,
      heredocs: node.heredocs,
      mounts,
      network: network?.text as RunInstruction['network'],
      security: security?.text as RunInstruction['security'],
    };
  }

  copy(node: InstructionNode): CopyInstruction | AddInstruction {
    const isAdd = node.name === 'ADD';
    const flags = this.flags(node, isAdd ? FLAGS.ADD : FLAGS.COPY);
    const args = this.list(node);
    if (args.length < 2) {
      this.fail(
        node.position,
        `${node.name} requires at least two arguments, but only one was provided. Destination could not be determined`,
      );
    }
    const dest = args[args.length - 1] as Text;
    if (parseHeredocWord(dest.text) !== undefined)
      this.fail(dest.position, `${node.name} cannot accept a heredoc as a destination`);
    const sources: Text[] = [];
    const inline: InlineSource[] = [];
    for (const src of args.slice(0, -1)) {
      const marker = parseHeredocWord(src.text);
      if (marker === undefined) {
        sources.push(src);
        continue;
      }
      const heredoc = node.heredocs.find((h) => h.name === marker.name);
      const body = heredoc?.content ?? '';
      inline.push({ name: marker.name, content: marker.chomp ? chompHeredoc(body) : body, expand: marker.expand });
    }
    const chmod = flags.string('chmod');
    if (chmod !== undefined && !chmod.text.includes('$') && !validChmod(chmod.text)) {
      this.fail(
        chmod.position,
        `invalid --chmod value ${JSON.stringify(chmod.text)}: an octal mode (0755) or symbolic (u+x,go-w)`,
      );
    }
    const chown = flags.string('chown');
    if (chown !== undefined && chown.text === '') this.fail(chown.position, 'Missing a value on flag: chown');
    const common = {
      node,
      sources,
      inline,
      dest,
      chown,
      chmod,
      link: flags.bool('link') ?? false,
      excludes: flags.list('exclude'),
    };
    if (!isAdd) {
      return { kind: 'COPY', ...common, from: flags.string('from'), parents: flags.bool('parents') ?? false };
    }
    const checksum = flags.string('checksum');
    if (checksum !== undefined) {
      if (!checksum.text.includes('$') && !/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(checksum.text)) {
        this.fail(checksum.position, `invalid checksum digest format ${JSON.stringify(checksum.text)}`);
      }
      if (sources.length !== 1 || inline.length > 0) {
        this.fail(checksum.position, "checksum can't be specified for multiple sources");
      }
      const only = sources[0] as Text;
      if (!only.text.includes('$') && !isHttpUrl(only.text) && !isGitUrl(only.text)) {
        this.fail(checksum.position, 'checksum requires the source to be an HTTP(S) URL or a Git repository');
      }
    }
    const keepGitDir = flags.bool('keep-git-dir') ?? false;
    if (keepGitDir && !sources.some((s) => s.text.includes('$') || isGitUrl(s.text))) {
      this.warnings.push({ position: node.position, message: '--keep-git-dir has no effect without a Git source' });
    }
    return { kind: 'ADD', ...common, checksum, keepGitDir, unpack: flags.bool('unpack') };
  }

  arg(node: InstructionNode): ArgInstruction {
    this.flags(node);
    const words = parseQuotedWords(node.rest, this.escape);
    if (words.length === 0) this.fail(node.position, 'ARG requires at least one argument');
    return {
      kind: 'ARG',
      node,
      args: words.map((word) => {
        const eq = word.text.indexOf('=');
        if (eq === 0) this.fail(node.positionAt(word.offset), 'ARG names can not be blank');
        if (eq < 0) return { name: word.text, default: undefined };
        return {
          name: word.text.slice(0, eq),
          default: { text: word.text.slice(eq + 1), position: node.positionAt(word.offset + eq + 1) },
        };
      }),
    };
  }

  healthcheck(node: InstructionNode): HealthcheckInstruction {
    const m = /^(\S+)\s*/.exec(node.rest);
    if (m === null) this.fail(node.position, 'HEALTHCHECK requires at least one argument');
    const type = (m[1] as string).toUpperCase();
    const rest = node.rest.slice(m[0].length);
    if (type === 'NONE') {
      if (rest !== '') this.fail(node.positionAt(m[0].length), 'HEALTHCHECK NONE takes no arguments');
      if (node.flags.length > 0) {
        this.warnings.push({ position: node.position, message: 'HEALTHCHECK NONE ignores its flags' });
      }
      return { kind: 'HEALTHCHECK', node, healthcheck: { test: ['NONE'] } };
    }
    const flags = this.flags(node, FLAGS.HEALTHCHECK);
    if (type !== 'CMD') this.fail(node.restPosition, `Unknown type ${JSON.stringify(type)} in HEALTHCHECK (try CMD)`);
    const json = parseJsonArray(rest);
    let test: string[];
    if (json.kind === 'json') {
      if (json.values.length === 0) this.fail(node.restPosition, 'Missing command after HEALTHCHECK CMD');
      test = ['CMD', ...json.values.map((w) => w.text)];
    } else if (json.kind === 'not-strings') {
      this.fail(
        node.positionAt(m[0].length + json.offset),
        'when using JSON array syntax, arrays must be comprised of strings only',
      );
    } else {
      if (rest === '') this.fail(node.restPosition, 'Missing command after HEALTHCHECK CMD');
      test = ['CMD-SHELL', rest];
    }
    const healthcheck: Healthcheck = { test };
    const duration = (name: string, key: 'interval' | 'timeout' | 'startPeriod' | 'startInterval') => {
      const flag = flags.string(name);
      if (flag === undefined || flag.text === '') return;
      const ns = parseGoDuration(flag.text, (r) => this.fail(flag.position, r));
      if (ns === 0) return;
      if (ns < 1_000_000) this.fail(flag.position, `Interval ${JSON.stringify(name)} cannot be less than 1ms`);
      healthcheck[key] = ns;
    };
    duration('interval', 'interval');
    duration('timeout', 'timeout');
    duration('start-period', 'startPeriod');
    duration('start-interval', 'startInterval');
    const retries = flags.string('retries');
    if (retries !== undefined && retries.text !== '') {
      if (!/^[+-]?\d+$/.test(retries.text) || Math.abs(Number(retries.text)) > 2 ** 31 - 1) {
        this.fail(retries.position, `strconv.ParseInt: parsing ${JSON.stringify(retries.text)}: invalid syntax`);
      }
      const n = Number(retries.text);
      if (n < 0) this.fail(retries.position, `--retries cannot be negative (${n})`);
      healthcheck.retries = n;
    }
    return { kind: 'HEALTHCHECK', node, healthcheck };
  }

  onbuild(node: InstructionNode, nested: boolean): OnbuildInstruction {
    this.flags(node);
    if (nested) this.fail(node.position, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
    const child = node.child;
    if (child === undefined) this.fail(node.position, 'ONBUILD requires at least one argument');
    if (child.name === 'ONBUILD') this.fail(child.position, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
    if (child.name === 'FROM' || child.name === 'MAINTAINER') {
      this.fail(child.position, `${child.name} isn't allowed as an ONBUILD trigger`);
    }
    const trigger = this.instruction(child, true) as Instruction;
    let expression = node.original.replace(/^\s*ONBUILD\s*/i, '');
    for (const heredoc of child.heredocs) expression += `\n${heredoc.content}${heredoc.name}`;
    return { kind: 'ONBUILD', node, expression, trigger };
  }
}

const MOUNT_TYPES = new Set<MountType>(['bind', 'cache', 'tmpfs', 'secret', 'ssh']);

/** Splits a CSV field list as encoding/csv does for one record (quotes, "" inside quotes). */
function csvFields(text: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) return undefined;
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += text[i++];
      }
      if (i < text.length && text[i] !== ',') return undefined;
    } else {
      const comma = text.indexOf(',', i);
      const end = comma < 0 ? text.length : comma;
      field = text.slice(i, end);
      if (field.includes('"')) return undefined;
      i = end;
    }
    out.push(field);
    if (i >= text.length) return out;
    i++;
  }
}

function parseBool(value: string): boolean | undefined {
  if (/^(1|t|T|TRUE|true|True)$/.test(value)) return true;
  if (/^(0|f|F|FALSE|false|False)$/.test(value)) return false;
  return undefined;
}

/** BuildKit's ParseMount, keys and types only; values stay as written for expansion. */
function parseMount(spec: Text, fail: (position: Position, reason: string) => never): Mount {
  const fields = csvFields(spec.text);
  if (fields === undefined) fail(spec.position, `failed to parse csv mounts: ${JSON.stringify(spec.text)}`);
  const mount: Mount = { type: 'bind', spec };
  const at = spec.position;
  let roAuto = true;
  const values: [string, string][] = [];
  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? undefined : field.slice(eq + 1);
    if (value === undefined) {
      if (key === 'readonly' || key === 'ro') {
        mount.readonly = true;
        roAuto = false;
      } else if (key === 'readwrite' || key === 'rw') {
        mount.readonly = false;
        roAuto = false;
      } else if (key === 'required') mount.required = true;
      else fail(at, `invalid field '${field}' must be a key=value pair`);
      continue;
    }
    if (key === 'type') {
      const type = value.toLowerCase() as MountType;
      if (!MOUNT_TYPES.has(type)) fail(at, `unsupported mount type ${JSON.stringify(value)}`);
      mount.type = type;
      continue;
    }
    values.push([key, value]);
  }
  const text = (value: string): Text => ({ text: value, position: at });
  for (const [key, value] of values) {
    switch (key) {
      case 'source':
      case 'src':
        mount.source = text(value);
        break;
      case 'target':
      case 'dst':
      case 'destination':
        mount.target = text(value);
        break;
      case 'from':
        mount.from = text(value);
        break;
      case 'id':
        mount.id = text(value);
        break;
      case 'readonly':
      case 'ro':
      case 'readwrite':
      case 'rw': {
        const b = parseBool(value);
        if (b === undefined) fail(at, `invalid value for ${key}: ${value}`);
        const writable = key === 'readwrite' || key === 'rw';
        mount.readonly = writable ? !b : b;
        roAuto = false;
        break;
      }
      case 'required': {
        if (mount.type !== 'secret' && mount.type !== 'ssh') {
          fail(at, `unexpected key '${key}' for mount type '${mount.type}'`);
        }
        const b = parseBool(value);
        if (b === undefined) fail(at, `invalid value for required: ${value}`);
        mount.required = b;
        break;
      }
      case 'size':
        if (mount.type !== 'tmpfs') fail(at, `unexpected key '${key}' for mount type '${mount.type}'`);
        mount.size = text(value);
        break;
      case 'sharing':
        if (mount.type !== 'cache') fail(at, `invalid cache sharing set for ${mount.type} mount`);
        if (!['shared', 'private', 'locked'].includes(value.toLowerCase())) {
          fail(at, `unrecognized cache sharing mode ${JSON.stringify(value)}: shared, private or locked`);
        }
        mount.sharing = value.toLowerCase() as Mount['sharing'];
        break;
      case 'mode':
      case 'uid':
      case 'gid': {
        if (mount.type !== 'secret' && mount.type !== 'ssh' && mount.type !== 'cache') {
          fail(at, `${key} not allowed for ${JSON.stringify(mount.type)} type mounts`);
        }
        const ok = value.includes('$') || (key === 'mode' ? /^[0-7]+$/.test(value) : /^\d+$/.test(value));
        if (!ok) fail(at, `invalid ${key} ${JSON.stringify(value)}`);
        mount[key] = text(value);
        break;
      }
      case 'env':
        if (mount.type !== 'secret') fail(at, `unexpected key '${key}' for mount type '${mount.type}'`);
        mount.env = text(value);
        break;
      default:
        fail(at, `unexpected key '${key}' in '${key}=${value}'`);
    }
  }
  if (roAuto) mount.readonly = !(mount.type === 'cache' || mount.type === 'tmpfs');
  if (mount.type === 'secret') {
    if (mount.from !== undefined) fail(at, 'secret mount should not have a from');
    if (mount.source === undefined && mount.target === undefined && mount.id === undefined && mount.env === undefined) {
      fail(at, 'invalid secret mount. one of source, target required');
    }
    if (mount.source !== undefined && mount.id !== undefined) fail(at, "both source and id can't be set");
  }
  if ((mount.type === 'bind' || mount.type === 'cache' || mount.type === 'tmpfs') && mount.target === undefined) {
    fail(at, `${mount.type} mount requires a target`);
  }
  return mount;
}

const INSTRUCTION_SET = new Set<string>(INSTRUCTION_NAMES);

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      row[j] = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

function suggestion(name: string): string {
  if (INSTRUCTION_SET.has(name)) return '';
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of INSTRUCTION_NAMES) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best === undefined ? '' : ` (did you mean ${best}?)`;
}

// ---------------------------------------------------------------------------
// Value syntax shared by parse and resolve.

const SIGNALS = [
  'HUP',
  'INT',
  'QUIT',
  'ILL',
  'TRAP',
  'ABRT',
  'IOT',
  'BUS',
  'FPE',
  'KILL',
  'USR1',
  'SEGV',
  'USR2',
  'PIPE',
  'ALRM',
  'TERM',
  'STKFLT',
  'CHLD',
  'CLD',
  'CONT',
  'STOP',
  'TSTP',
  'TTIN',
  'TTOU',
  'URG',
  'XCPU',
  'XFSZ',
  'VTALRM',
  'PROF',
  'WINCH',
  'IO',
  'POLL',
  'PWR',
  'SYS',
  'UNUSED',
];

/** moby/sys/signal.ParseSignal's accepted forms: a number 1–64, a name with or without SIG, RTMIN+n, RTMAX-n. */
function checkSignal(value: string, fail: (reason: string) => never): void {
  if (/^\d+$/.test(value)) {
    const n = Number(value);
    if (n < 1 || n > 64) fail(`Invalid signal: ${value}`);
    return;
  }
  const name = value.toUpperCase().replace(/^SIG/, '');
  if (SIGNALS.includes(name)) return;
  const rt = /^RT(MIN|MAX)(?:([+-])(\d+))?$/.exec(name);
  if (rt !== null) {
    const n = Number(rt[3] ?? 0);
    if ((rt[1] === 'MIN' && rt[2] !== '-' && n <= 30) || (rt[1] === 'MAX' && rt[2] !== '+' && n <= 30)) return;
  }
  fail(`Invalid signal: ${value}`);
}

/** EXPOSE `port[-port][/proto]` → `port/proto` keys, one per port (docker/go-connections/nat). */
export function parsePorts(spec: string, fail: (reason: string) => never): string[] {
  const slash = spec.lastIndexOf('/');
  const range = slash < 0 ? spec : spec.slice(0, slash);
  const proto = slash < 0 ? 'tcp' : spec.slice(slash + 1).toLowerCase();
  if (!['tcp', 'udp', 'sctp'].includes(proto)) fail(`invalid proto: ${spec.slice(slash + 1)}`);
  if (range.includes(':')) fail(`invalid port ${JSON.stringify(spec)}: EXPOSE takes a container port, not a mapping`);
  const m = /^(\d+)(?:-(\d+))?$/.exec(range);
  if (m === null) fail(`invalid containerPort: ${range}`);
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  if (start > 65535 || end > 65535) fail(`invalid containerPort: ${range}`);
  if (end < start) fail(`invalid range specified for the Port: ${range}`);
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  return out;
}

function validChmod(value: string): boolean {
  if (/^[0-7]+$/.test(value)) return parseInt(value, 8) <= 0o7777;
  return /^([ugoa]*[-+=]([rwxXst]*|[ugo]))(,[ugoa]*[-+=]([rwxXst]*|[ugo]))*$/.test(value);
}

const UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's time.ParseDuration → nanoseconds (`1h30m`, `1.5s`, `300ms`). */
export function parseGoDuration(value: string, fail: (reason: string) => never): number {
  const bad = (): never => fail(`time: invalid duration ${JSON.stringify(value)}`);
  let s = value;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') bad();
  let total = 0;
  const re = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/u;
  while (s !== '') {
    const m = re.exec(s);
    if (m === null || ((m[1] ?? '') === '' && (m[2] ?? '') === '')) {
      if (/^[\d.]+$/.test(s)) fail(`time: missing unit in duration ${JSON.stringify(value)}`);
      if (/^[\d.]+/.test(s))
        fail(`time: unknown unit ${JSON.stringify(s.replace(/^[\d.]+/, ''))} in duration ${JSON.stringify(value)}`);
      return bad();
    }
    const unit = UNITS[m[3] as string] as number;
    const whole = Number(m[1] || '0');
    const frac = m[2] ? Number(`0.${m[2]}`) : 0;
    total += whole * unit + Math.round(frac * unit);
    s = s.slice(m[0].length);
  }
  return sign * total;
}

export function isHttpUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/** Git sources ADD accepts: git@host:path, git://, ssh://, and http(s) URLs of a .git repository. */
export function isGitUrl(source: string): boolean {
  if (/^(git@[^:]+:|git:\/\/|ssh:\/\/)/.test(source)) return true;
  if (!isHttpUrl(source)) return false;
  const path = source.replace(/#.*$/, '').replace(/^https?:\/\/[^/]+/i, '');
  return /\.git\/?$/.test(path);
}

// ---------------------------------------------------------------------------
// The Containerfile.

/** Parses instructions from a syntax tree. Throws BuildfileError. */
export function parseInstructions(ast: ContainerfileAst): Containerfile {
  const parser: Parser = new Parser(ast.file, ast.escape);
  const globalArgs: ArgInstruction[] = [];
  const stages: Stage[] = [];
  const names = new Map<string, Position>();
  for (const node of ast.instructions) {
    const instruction = parser.instruction(node);
    if (instruction.kind === 'FROM') {
      if (instruction.stageName !== undefined) {
        const earlier = names.get(instruction.stageName);
        if (earlier !== undefined) {
          parser.fail(
            node.position,
            `duplicate stage name ${JSON.stringify(instruction.stageName)} (first on line ${earlier.line})`,
          );
        }
        names.set(instruction.stageName, node.position);
      }
      stages.push({ index: stages.length, name: instruction.stageName, from: instruction, instructions: [] });
      continue;
    }
    const stage = stages[stages.length - 1];
    if (stage === undefined) {
      if (instruction.kind === 'ARG') {
        globalArgs.push(instruction);
        continue;
      }
      parser.fail(
        node.position,
        `${node.name} before the first FROM: only ARG may come before it (no build stage in current context)`,
      );
    }
    stage.instructions.push(instruction);
  }
  if (stages.length === 0) {
    const last = ast.instructions[ast.instructions.length - 1] as InstructionNode;
    parser.fail(last.position, 'no FROM instruction: a Containerfile needs at least one build stage');
  }
  const warnings = [...ast.warnings, ...parser.warnings].sort(
    (a, b) => a.position.line - b.position.line || a.position.column - b.position.column,
  );
  return { file: ast.file, escape: ast.escape, ast, globalArgs, stages, warnings };
}

/** Reads a Containerfile: parse, then instructions. Throws BuildfileError. */
export function loadContainerfile(source: string, options: { file?: string } = {}): Containerfile {
  return parseInstructions(parseContainerfile(source, options));
}

/**
 * An ONBUILD trigger from a base image's config, as an instruction of the
 * stage being built (Docker runs them right after FROM). `file` names the
 * trigger in errors.
 */
export function parseTrigger(expression: string, options: { file?: string; escape?: EscapeChar } = {}): Instruction {
  const escape = options.escape ?? '\\';
  const directive = escape === '\\' ? '' : `# escape=${escape}\n`;
  const ast = parseContainerfile(`${directive}${expression}`, { file: options.file ?? 'ONBUILD trigger' });
  if (ast.instructions.length !== 1) {
    throw new BuildfileError(ast.file, { line: 1, column: 1 }, 'onbuild trigger should be a single expression');
  }
  const node = ast.instructions[0] as InstructionNode;
  if (node.name === 'FROM' || node.name === 'MAINTAINER' || node.name === 'ONBUILD') {
    throw new BuildfileError(ast.file, node.position, `${node.name} isn't allowed as an ONBUILD trigger`);
  }
  return new Parser(ast.file, escape).instruction(node, true) as Instruction;
}

// ---------------------------------------------------------------------------
// Stages.

export type StageBase =
  | { kind: 'scratch' }
  | { kind: 'stage'; index: number }
  | { kind: 'image'; reference: string; platform: string | undefined };

/** Something a stage reads from outside itself. */
export type StageDependency =
  | { kind: 'stage'; index: number; via: 'FROM' | 'COPY --from' | 'RUN --mount'; position: Position; ref?: string }
  | { kind: 'image'; reference: string; via: 'COPY --from' | 'RUN --mount'; position: Position };

export interface StagePlan {
  /** Each stage's resolved base (FROM expanded in the global scope). */
  bases: StageBase[];
  /** Each stage's dependencies, in instruction order. */
  dependencies: StageDependency[][];
  /** The stage the build produces. */
  target: number;
  /** The stages the target needs (itself included), ascending. */
  needed: number[];
  /**
   * The needed stages in waves: each wave depends only on earlier waves, so
   * the stages of one wave can be built in parallel.
   */
  waves: number[][];
}

export interface PlanOptions {
  /** --target: a stage name (any case) or index; the last stage by default. */
  target?: string;
}

/**
 * A `--from=` value: a stage by name or index, or an image. A stage that
 * reads itself is an error at once; one that reads a later stage only when
 * that stage is needed (planStages), as in BuildKit.
 */
function stageRef(
  cf: Containerfile,
  stage: Stage,
  value: string,
  via: 'COPY --from' | 'RUN --mount',
  position: Position,
): StageDependency {
  let index: number | undefined;
  if (/^\d+$/.test(value)) {
    index = Number(value);
    if (index >= cf.stages.length) throw new BuildfileError(cf.file, position, `invalid stage index ${index}`);
  } else {
    index = cf.stages.find((s) => s.name === value.toLowerCase())?.index;
  }
  if (index === undefined) return { kind: 'image', reference: value, via, position };
  if (index === stage.index) {
    throw new BuildfileError(
      cf.file,
      position,
      `circular dependency detected on stage: ${stage.name ?? `stage-${stage.index}`}`,
    );
  }
  return { kind: 'stage', index, via, position, ref: value };
}

function expandOrFail(file: string, text: Text, vars: Variables, escape: EscapeChar): string {
  try {
    return expand(text.text, vars, { escape }).word;
  } catch (error) {
    if (error instanceof ExpansionError) throw new BuildfileError(file, text.position, error.message, { cause: error });
    throw error;
  }
}

/**
 * Declares the global ARGs in `global` (in order) and works out the stage
 * graph: bases, dependencies, the target and the waves of stages to build.
 * FROM images, FROM --platform and --from values are expanded in the global
 * scope. Throws BuildfileError.
 */
export function planStages(cf: Containerfile, global: GlobalScope, options: PlanOptions = {}): StagePlan {
  for (const arg of cf.globalArgs) {
    for (const a of arg.args) {
      try {
        global.declare(a.name, a.default?.text, { escape: cf.escape });
      } catch (error) {
        if (error instanceof ExpansionError) {
          throw new BuildfileError(cf.file, a.default?.position ?? arg.node.position, error.message);
        }
        throw error;
      }
    }
  }
  const bases: StageBase[] = [];
  const dependencies: StageDependency[][] = [];
  for (const stage of cf.stages) {
    const from = stage.from;
    const image = expandOrFail(cf.file, from.image, global, cf.escape);
    if (image === '') {
      throw new BuildfileError(cf.file, from.image.position, `base name (${from.image.text}) should not be blank`);
    }
    const platform = from.platform === undefined ? undefined : expandOrFail(cf.file, from.platform, global, cf.escape);
    if (platform === '') {
      throw new BuildfileError(
        cf.file,
        (from.platform as Text).position,
        `empty platform value from expression ${(from.platform as Text).text}`,
      );
    }
    const deps: StageDependency[] = [];
    // FROM names an earlier stage only; a later stage's name is an image name (BuildKit).
    const earlier = cf.stages.find((s) => s.index < stage.index && s.name === image.toLowerCase());
    if (image.toLowerCase() === 'scratch') bases.push({ kind: 'scratch' });
    else if (earlier !== undefined) {
      bases.push({ kind: 'stage', index: earlier.index });
      deps.push({ kind: 'stage', index: earlier.index, via: 'FROM', position: from.image.position });
    } else bases.push({ kind: 'image', reference: image, platform });
    // ONBUILD triggers run in the stages built FROM this image, not here.
    for (const instruction of stage.instructions) {
      if (instruction.kind === 'COPY' && instruction.from !== undefined) {
        const value = expandOrFail(cf.file, instruction.from, global, cf.escape);
        deps.push(stageRef(cf, stage, value, 'COPY --from', instruction.from.position));
      }
      if (instruction.kind === 'RUN') {
        for (const mount of instruction.mounts) {
          if (mount.from === undefined) continue;
          const value = expandOrFail(cf.file, mount.from, global, cf.escape);
          deps.push(stageRef(cf, stage, value, 'RUN --mount', mount.from.position));
        }
      }
    }
    dependencies.push(deps);
  }

  let target = cf.stages.length - 1;
  if (options.target !== undefined) {
    const wanted = options.target.toLowerCase();
    const found =
      cf.stages.find((s) => s.name === wanted) ?? (/^\d+$/.test(wanted) ? cf.stages[Number(wanted)] : undefined);
    if (found === undefined) {
      throw new UnknownTargetError(
        options.target,
        cf.stages.flatMap((s) => (s.name === undefined ? [] : [s.name])),
      );
    }
    target = found.index;
  }

  const neededSet = new Set<number>();
  const visit = (index: number) => {
    if (neededSet.has(index)) return;
    neededSet.add(index);
    const stage = cf.stages[index] as Stage;
    for (const dep of dependencies[index] ?? []) {
      if (dep.kind !== 'stage') continue;
      if (dep.index > index) {
        throw new BuildfileError(
          cf.file,
          dep.position,
          `cannot copy from stage ${JSON.stringify(dep.ref ?? String(dep.index))}, it needs to be defined before current stage ${JSON.stringify(stage.name ?? `stage-${index}`)}`,
        );
      }
      visit(dep.index);
    }
  };
  visit(target);
  const needed = [...neededSet].sort((a, b) => a - b);

  // Dependencies always point to earlier stages, so one pass in order gives each stage its wave.
  const wave = new Map<number, number>();
  for (const index of needed) {
    let w = 0;
    for (const dep of dependencies[index] ?? []) {
      if (dep.kind === 'stage') w = Math.max(w, (wave.get(dep.index) as number) + 1);
    }
    wave.set(index, w);
  }
  const waves: number[][] = [];
  for (const index of needed) {
    const w = wave.get(index) as number;
    (waves[w] ??= []).push(index);
  }
  return { bases, dependencies, target, needed, waves };
}

/** A --target that names no stage: a flag error, not tied to a line of the file. */
export class UnknownTargetError extends HutchError {
  constructor(
    readonly target: string,
    readonly stageNames: string[],
  ) {
    super(`target stage ${JSON.stringify(target)} could not be found`, {
      hint: stageNames.length === 0 ? 'no stage has a name (FROM … AS name)' : `stages: ${stageNames.join(', ')}`,
    });
    this.name = 'UnknownTargetError';
  }
}

// ---------------------------------------------------------------------------
// Resolution: an instruction's words in the scope of its step.

type ResolvedCommon = { node: InstructionNode };

export type ResolvedInstruction =
  | (ResolvedCommon & { kind: 'RUN' } & RunFields<string>)
  | (ResolvedCommon & { kind: 'COPY'; from: string | undefined; parents: boolean } & CopyFields<string>)
  | (ResolvedCommon & {
      kind: 'ADD';
      checksum: string | undefined;
      keepGitDir: boolean;
      unpack: boolean | undefined;
    } & CopyFields<string>)
  | (ResolvedCommon & { kind: 'ENV'; pairs: KeyValue<string>[] })
  | (ResolvedCommon & { kind: 'LABEL'; pairs: KeyValue<string>[] })
  | (ResolvedCommon & { kind: 'ARG'; args: { name: string; value: string | undefined }[] })
  | (ResolvedCommon & { kind: 'WORKDIR'; path: string })
  | (ResolvedCommon & { kind: 'USER'; user: string })
  | (ResolvedCommon & { kind: 'STOPSIGNAL'; signal: string })
  | (ResolvedCommon & { kind: 'EXPOSE'; ports: string[] })
  | (ResolvedCommon & { kind: 'VOLUME'; paths: string[] })
  | (ResolvedCommon & { kind: 'CMD'; command: CommandLine<string> })
  | (ResolvedCommon & { kind: 'ENTRYPOINT'; command: CommandLine<string> })
  | (ResolvedCommon & { kind: 'SHELL'; shell: string[] })
  | (ResolvedCommon & { kind: 'HEALTHCHECK'; healthcheck: Healthcheck })
  | (ResolvedCommon & { kind: 'ONBUILD'; expression: string })
  | (ResolvedCommon & { kind: 'MAINTAINER'; maintainer: string });

const raw = (t: Text): string => t.text;

function commandText(c: CommandLine): CommandLine<string> {
  return c.form === 'exec' ? { form: 'exec', args: c.args.map(raw) } : { form: 'shell', command: c.command.text };
}

/**
 * The instruction with its words expanded in `scope`, as the executor acts on
 * it (Docker expands ADD COPY ENV EXPOSE LABEL STOPSIGNAL USER VOLUME WORKDIR,
 * COPY/ADD flags, RUN --mount values; RUN CMD ENTRYPOINT HEALTHCHECK SHELL
 * are left to the shell). ARG is applied to the scope here (declareArg), so
 * later steps see it; ENV is not: the executor calls scope.setEnv with the
 * resolved pairs, because all pairs of one ENV expand with the scope before
 * it. Throws BuildfileError naming the word that failed.
 */
export function resolveInstruction(
  cf: Pick<Containerfile, 'file' | 'escape'>,
  instruction: Instruction,
  scope: StageScope,
): ResolvedInstruction {
  const file = cf.file;
  const x = (t: Text) => expandOrFail(file, t, scope, cf.escape);
  const opt = (t: Text | undefined) => (t === undefined ? undefined : x(t));
  const node = instruction.node;
  switch (instruction.kind) {
    case 'RUN':
      return {
        kind: 'RUN',
        node,
        command: commandText(instruction.command),
        heredocs: instruction.heredocs,
        mounts: instruction.mounts.map((m) => resolveMount(file, m, x)),
        network: instruction.network,
        security: instruction.security,
      };
    case 'COPY':
    case 'ADD': {
      const inline = instruction.inline.map((s) => {
        if (!s.expand) return s;
        try {
          return { ...s, content: expandHeredoc(s.content, scope) };
        } catch (error) {
          if (error instanceof ExpansionError) throw new BuildfileError(file, node.position, error.message);
          throw error;
        }
      });
      const chmod = opt(instruction.chmod);
      if (chmod !== undefined && !validChmod(chmod)) {
        throw new BuildfileError(
          file,
          (instruction.chmod as Text).position,
          `invalid --chmod value ${JSON.stringify(chmod)}`,
        );
      }
      const common = {
        node,
        sources: instruction.sources.map(x),
        inline,
        dest: x(instruction.dest),
        chown: opt(instruction.chown),
        chmod,
        link: instruction.link,
        excludes: instruction.excludes.map(x),
      };
      if (instruction.kind === 'COPY') {
        return { kind: 'COPY', ...common, from: opt(instruction.from), parents: instruction.parents };
      }
      return {
        kind: 'ADD',
        ...common,
        checksum: opt(instruction.checksum),
        keepGitDir: instruction.keepGitDir,
        unpack: instruction.unpack,
      };
    }
    case 'ENV':
    case 'LABEL': {
      const pairs = instruction.pairs.map((p) => ({ key: x(p.key), value: x(p.value) }));
      for (const [i, p] of pairs.entries()) {
        if (p.key === '') {
          throw new BuildfileError(
            file,
            (instruction.pairs[i] as KeyValue).key.position,
            `${instruction.kind} names can not be blank`,
          );
        }
      }
      return { kind: instruction.kind, node, pairs };
    }
    case 'ARG': {
      const args = instruction.args.map((a) => {
        try {
          return { name: a.name, value: scope.declareArg(a.name, a.default?.text, { escape: cf.escape }) };
        } catch (error) {
          if (error instanceof ExpansionError) {
            throw new BuildfileError(file, a.default?.position ?? node.position, error.message);
          }
          throw error;
        }
      });
      return { kind: 'ARG', node, args };
    }
    case 'WORKDIR':
      return { kind: 'WORKDIR', node, path: x(instruction.path) };
    case 'USER': {
      const user = x(instruction.user);
      if (user === '') throw new BuildfileError(file, instruction.user.position, 'USER requires exactly one argument');
      return { kind: 'USER', node, user };
    }
    case 'STOPSIGNAL': {
      const signal = x(instruction.signal);
      checkSignal(signal, (r) => {
        throw new BuildfileError(file, instruction.signal.position, r);
      });
      return { kind: 'STOPSIGNAL', node, signal };
    }
    case 'EXPOSE': {
      const ports: string[] = [];
      for (const p of instruction.ports) {
        let words: string[];
        try {
          words = expand(p.text, scope, { escape: cf.escape }).words;
        } catch (error) {
          if (error instanceof ExpansionError) throw new BuildfileError(file, p.position, error.message);
          throw error;
        }
        for (const w of words) {
          for (const key of parsePorts(w, (r) => {
            throw new BuildfileError(file, p.position, r);
          })) {
            if (!ports.includes(key)) ports.push(key);
          }
        }
      }
      return { kind: 'EXPOSE', node, ports };
    }
    case 'VOLUME': {
      const paths = instruction.paths.map(x);
      paths.forEach((p, i) => {
        if (p.trim() === '') {
          throw new BuildfileError(
            file,
            (instruction.paths[i] as Text).position,
            'VOLUME specified can not be an empty string',
          );
        }
      });
      return { kind: 'VOLUME', node, paths };
    }
    case 'CMD':
    case 'ENTRYPOINT':
      return { kind: instruction.kind, node, command: commandText(instruction.command) };
    case 'SHELL':
      return { kind: 'SHELL', node, shell: instruction.shell };
    case 'HEALTHCHECK':
      return { kind: 'HEALTHCHECK', node, healthcheck: instruction.healthcheck };
    case 'ONBUILD':
      return { kind: 'ONBUILD', node, expression: instruction.expression };
    case 'MAINTAINER':
      return { kind: 'MAINTAINER', node, maintainer: instruction.maintainer };
  }
}

function resolveMount(file: string, m: Mount, x: (t: Text) => string): Mount<string> {
  const o = (t: Text | undefined) => (t === undefined ? undefined : x(t));
  const out: Mount<string> = {
    type: m.type,
    spec: m.spec,
    target: o(m.target),
    source: o(m.source),
    from: o(m.from),
    id: o(m.id),
    sharing: m.sharing,
    readonly: m.readonly,
    required: m.required,
    mode: o(m.mode),
    uid: o(m.uid),
    gid: o(m.gid),
    size: o(m.size),
    env: o(m.env),
  };
  for (const key of ['mode', 'uid', 'gid'] as const) {
    const value = out[key];
    if (value === undefined) continue;
    const ok = key === 'mode' ? /^[0-7]+$/.test(value) : /^\d+$/.test(value);
    if (!ok) throw new BuildfileError(file, m.spec.position, `invalid ${key} ${JSON.stringify(value)}`);
  }
  if (m.type === 'secret' && out.target === undefined && out.env === undefined) {
    out.target = `/run/secrets/${out.id ?? posix.basename(out.source ?? '')}`;
  }
  if (m.type === 'secret' && out.id === undefined) out.id = out.source ?? posix.basename(out.target ?? '');
  if (m.type === 'cache' && out.id === undefined) out.id = out.target;
  for (const key of Object.keys(out) as (keyof Mount<string>)[]) if (out[key] === undefined) delete out[key];
  return out;
}

// ---------------------------------------------------------------------------
// Helpers for the executor.

/**
 * The argv a shell-or-exec command line runs as: exec form as is, shell form
 * as SHELL + the command (`/bin/sh -c "…"`).
 */
export function commandArgs(command: CommandLine<string>, shell: readonly string[] = DEFAULT_SHELL): string[] {
  return command.form === 'exec' ? [...command.args] : [...shell, command.command];
}

/**
 * What a RUN executes, heredocs included, as BuildKit does it: a lone
 * `RUN <<EOF` runs the body with the shell (or, when the body starts with
 * `#!`, as an executable file the executor mounts at /dev/pipes/NAME); any
 * other heredoc line goes to the shell whole, bodies appended, so the shell
 * reads them as here-documents.
 */
export function runArgs(
  run: { command: CommandLine<string>; heredocs: readonly HeredocNode[] },
  shell: readonly string[] = DEFAULT_SHELL,
): { args: string[]; file?: { path: string; content: string; mode: number } } {
  if (run.heredocs.length === 0 || run.command.form === 'exec') return { args: commandArgs(run.command, shell) };
  const line = run.command.command;
  const first = run.heredocs[0] as HeredocNode;
  if (parseHeredocWord(line.trim()) !== undefined) {
    const body = first.chomp ? chompHeredoc(first.content) : first.content;
    if (body.startsWith('#!')) {
      const path = posix.join('/dev/pipes', first.name);
      return { args: [path], file: { path, content: body, mode: 0o755 } };
    }
    return { args: [...shell, body] };
  }
  let full = line;
  for (const h of run.heredocs) full += `\n${h.content}${h.name}`;
  return { args: [...shell, full] };
}

/** WORKDIR: relative paths join the current one; the result is cleaned and absolute. */
export function resolveWorkdir(current: string, path: string): string {
  return posix.resolve('/', current || '/', path);
}
