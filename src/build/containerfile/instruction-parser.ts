/**
 * Syntax tree → instructions as typed, validated objects (instructions.ts),
 * grouped into stages. Parsing checks everything that does not depend on
 * variables (flags, forms, port and duration syntax, stage names); what does
 * is checked when the step expands the instruction (resolve.ts). Errors are
 * BuildfileError with file, line and column. Semantics follow Docker's
 * reference and BuildKit's dockerfile frontend; docs/containerfile.md lists
 * where hutch differs.
 */
import type { ContainerfileAst, InstructionNode, Position } from './ast.js';
import type { EscapeChar } from './expand.js';
import {
  FLAGS,
  suggestion,
  type AddInstruction,
  type ArgInstruction,
  type CommandLine,
  type Containerfile,
  type CopyInstruction,
  type FlagKind,
  type FromInstruction,
  type Healthcheck,
  type HealthcheckInstruction,
  type InlineSource,
  type Instruction,
  type KeyValue,
  type OnbuildInstruction,
  type RunInstruction,
  type Stage,
  type Text,
} from './instructions.js';
import {
  chompHeredoc,
  parseHeredocWord,
  parseJsonArray,
  parseQuotedWords,
  splitWhitespace,
  type Word,
} from './lexer.js';
import { parseMount } from './mount-flags.js';
import { BuildfileError, parseContainerfile } from './parser.js';
import { checkSignal, isGitUrl, isHttpUrl, parseGoDuration, parsePorts, validChmod } from './values.js';

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

/** Parses instructions from a syntax tree. Throws BuildfileError. */
/**
 * Syntax trees to instructions. Several trees (podman's repeated -f) are read
 * as one file, buildah's way: the second file's instructions follow the
 * first's, each checked with its own file's name and escape character.
 */
export function parseInstructions(asts: ContainerfileAst | readonly ContainerfileAst[]): Containerfile {
  const trees = Array.isArray(asts) ? (asts as readonly ContainerfileAst[]) : [asts as ContainerfileAst];
  const first = trees[0];
  if (first === undefined) throw new Error('parseInstructions: no Containerfile');
  const globalArgs: ArgInstruction[] = [];
  const stages: Stage[] = [];
  const names = new Map<string, Position>();
  const warnings: Containerfile['warnings'] = [];
  let parser: Parser = new Parser(first.file, first.escape);
  let last: { parser: Parser; node: InstructionNode } | undefined;
  for (const ast of trees) {
    const fileParser: Parser = new Parser(ast.file, ast.escape);
    parser = fileParser;
    for (const node of ast.instructions) {
      last = { parser: fileParser, node };
      const instruction = fileParser.instruction(node);
      if (instruction.kind === 'FROM') {
        if (instruction.stageName !== undefined) {
          const earlier = names.get(instruction.stageName);
          if (earlier !== undefined) {
            fileParser.fail(
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
        fileParser.fail(
          node.position,
          `${node.name} before the first FROM: only ARG may come before it (no build stage in current context)`,
        );
      }
      stage.instructions.push(instruction);
    }
    warnings.push(
      ...[...ast.warnings, ...fileParser.warnings].sort(
        (a, b) => a.position.line - b.position.line || a.position.column - b.position.column,
      ),
    );
  }
  if (stages.length === 0) {
    (last?.parser ?? parser).fail(
      last?.node.position ?? { line: 1, column: 1 },
      'no FROM instruction: a Containerfile needs at least one build stage',
    );
  }
  return { file: first.file, escape: first.escape, ast: first, globalArgs, stages, warnings };
}

/** Reads a Containerfile: parse, then instructions. Throws BuildfileError. */
export function loadContainerfile(source: string, options: { file?: string } = {}): Containerfile {
  return parseInstructions(parseContainerfile(source, options));
}

/** Reads several Containerfiles as one (podman build -f A -f B). Throws BuildfileError. */
export function loadContainerfiles(sources: readonly { text: string; file: string }[]): Containerfile {
  return parseInstructions(sources.map((s) => parseContainerfile(s.text, { file: s.file })));
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
