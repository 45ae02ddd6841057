/**
 * Containerfile → syntax tree, with BuildKit's rules
 * (frontend/dockerfile/parser/parser.go): directives at the top only, `#`
 * comment lines (also between continued lines), continuation with the escape
 * character, empty continuation lines skipped with a warning, instruction
 * names in any case, heredocs for RUN, COPY and ADD (and ONBUILD of those)
 * read from the lines after the instruction.
 *
 * Only the shape is checked here; what each instruction means and accepts is
 * instruction-parser.ts. Every error is a BuildfileError naming file, line and column.
 */
import { HutchError } from '../../errors.js';
import type { ContainerfileAst, FlagNode, HeredocNode, InstructionNode, ParseWarning, Position } from './ast.js';
import type { EscapeChar } from './expand.js';
import {
  DirectiveError,
  DirectiveScanner,
  escapeChar,
  findHeredocs,
  isCommentLine,
  parseJsonArray,
  positionIn,
  splitCommand,
  splitLines,
  trimContinuation,
  trimLeadingSpace,
  trimNewline,
  type PhysicalLine,
  type Segment,
} from './lexer.js';

/**
 * A Containerfile that cannot be built as written: `Containerfile:3:5: unknown
 * instruction: FOO`. The executor adds its own context around it.
 */
export class BuildfileError extends HutchError {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** The message without the location. */
  readonly reason: string;

  constructor(
    file: string,
    position: Position,
    reason: string,
    options: { hint?: string; cause?: unknown; exitCode?: number } = {},
  ) {
    super(`${file}:${position.line}:${position.column}: ${reason}`, options);
    this.name = 'BuildfileError';
    this.file = file;
    this.line = position.line;
    this.column = position.column;
    this.reason = reason;
  }
}

/** Instructions whose lines may carry heredocs (in shell form). */
const HEREDOC_INSTRUCTIONS = new Set(['RUN', 'COPY', 'ADD']);

/** Instructions whose arguments may be a JSON array; heredocs are not read after a JSON form. */
const MAYBE_JSON = new Set(['RUN', 'CMD', 'ENTRYPOINT', 'SHELL', 'COPY', 'ADD', 'VOLUME']);

export interface ParseOptions {
  /** The name errors use; `Containerfile` by default. */
  file?: string;
}

interface LogicalLine {
  text: string;
  segments: Segment[];
  startLine: number;
  endLine: number;
  emptyContinuation: boolean;
  comments: string[];
}

/** Parses a Containerfile's text. Throws BuildfileError. */
export function parseContainerfile(source: string, options: ParseOptions = {}): ContainerfileAst {
  const file = options.file ?? 'Containerfile';
  const lines = splitLines(source);
  const directives = new DirectiveScanner();
  let escape: EscapeChar = '\\';
  const instructions: InstructionNode[] = [];
  const warnings: ParseWarning[] = [];
  let comments: string[] = [];
  let i = 0;

  const fail = (position: Position, reason: string): never => {
    throw new BuildfileError(file, position, reason);
  };

  const feedDirective = (text: string, line: PhysicalLine, column: number) => {
    try {
      const d = directives.feed(text, line.number, column);
      if (d?.name === 'escape') escape = escapeChar(d.value);
      if (d?.name === 'check') checkOption(d.value);
    } catch (error) {
      if (error instanceof DirectiveError) fail({ line: line.number, column }, error.message);
      throw error;
    }
  };

  while (i < lines.length) {
    const first = lines[i++] as PhysicalLine;
    const trimmed = trimLeadingSpace(first.text);
    const column = first.text.length - trimmed.length + 1;
    feedDirective(trimmed, first, column);
    if (isCommentLine(first.text)) {
      comments.push(trimmed.slice(1).trim());
      continue;
    }
    const head = trimContinuation(trimmed, escape);
    if (!head.continues && head.text === '') continue;
    const logical: LogicalLine = {
      text: head.text,
      segments: [{ offset: 0, line: first.number, column }],
      startLine: first.number,
      endLine: first.number,
      emptyContinuation: false,
      comments,
    };
    let continues = head.continues;
    while (continues && i < lines.length) {
      const next = lines[i++] as PhysicalLine;
      feedDirective(next.text, next, 1);
      logical.endLine = next.number;
      if (isCommentLine(next.text)) continue;
      if (trimLeadingSpace(next.text) === '') {
        logical.emptyContinuation = true;
        continue;
      }
      const piece = trimContinuation(next.text, escape);
      logical.segments.push({ offset: logical.text.length, line: next.number, column: 1 });
      logical.text += piece.text;
      continues = piece.continues;
    }
    if (logical.emptyContinuation) {
      warnings.push({
        message: 'empty continuation line (empty continuation lines will become errors in a future release)',
        position: { line: logical.startLine, column },
      });
    }
    const node = instructionFromLine(file, logical, 0, logical.text, fail);
    const target = node.name === 'ONBUILD' ? node.child : node;
    if (target !== undefined && HEREDOC_INSTRUCTIONS.has(target.name) && !isJsonForm(target)) {
      for (const marker of findHeredocs(logical.text)) {
        const bodyLine = (lines[i] as PhysicalLine | undefined)?.number ?? logical.endLine + 1;
        let content = '';
        let terminated = false;
        while (i < lines.length) {
          const body = lines[i++] as PhysicalLine;
          logical.endLine = body.number;
          let candidate = trimNewline(body.raw);
          if (marker.chomp) candidate = candidate.replace(/^\t+/, '');
          if (candidate === marker.name) {
            terminated = true;
            break;
          }
          content += body.raw;
        }
        const position = positionIn(logical.text, logical.segments, marker.offset);
        if (!terminated) {
          fail(
            position,
            `unterminated heredoc ${marker.name}: no line ${JSON.stringify(marker.name)} after line ${bodyLine - 1}`,
          );
        }
        const heredoc: HeredocNode = {
          name: marker.name,
          expand: marker.expand,
          chomp: marker.chomp,
          fd: marker.fd,
          content,
          position,
          bodyLine,
        };
        target.heredocs.push(heredoc);
      }
    }
    node.endLine = logical.endLine;
    if (node.child !== undefined) node.child.endLine = logical.endLine;
    instructions.push(node);
    comments = [];
  }

  if (instructions.length === 0) {
    fail({ line: Math.max(lines.length, 1), column: 1 }, 'file with no instructions');
  }
  return { file, directives: directives.directives, escape, instructions, warnings };
}

function isJsonForm(node: InstructionNode): boolean {
  return MAYBE_JSON.has(node.name) && parseJsonArray(node.rest).kind === 'json';
}

/** BuildKit's parseLintOptions: `skip=A,B;error=true`. hutch runs no checks, but a bad value is an error there too. */
function checkOption(value: string): void {
  const text = value.trim();
  if (text === '') return;
  for (const part of text.split(';').slice(0, 2)) {
    const eq = part.indexOf('=');
    if (eq < 0) throw new DirectiveError(`failed to parse check options: invalid check option ${JSON.stringify(part)}`);
    const key = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (key === 'error') {
      if (!/^(1|t|T|TRUE|true|True|0|f|F|FALSE|false|False)$/.test(v)) {
        throw new DirectiveError(`failed to parse check options: invalid boolean ${JSON.stringify(v)}`);
      }
    } else if (key !== 'skip') {
      throw new DirectiveError(`failed to parse check options: invalid check option ${JSON.stringify(key)}`);
    }
  }
}

/**
 * One instruction from (part of) a logical line. `base` is where `text`
 * starts in the logical line (ONBUILD parses its rest as an instruction).
 */
function instructionFromLine(
  file: string,
  logical: LogicalLine,
  base: number,
  text: string,
  fail: (position: Position, reason: string) => never,
): InstructionNode {
  const positionAt = (offset: number): Position => positionIn(logical.text, logical.segments, base + offset);
  const split = splitCommand(text);
  const flags: FlagNode[] = split.flags.map((f) => ({
    name: f.name,
    value: f.value,
    position: positionAt(f.offset),
    valuePosition: positionAt(f.valueOffset),
  }));
  const name = split.keyword.toUpperCase();
  const node: InstructionNode = {
    keyword: split.keyword,
    name,
    flags,
    rest: split.rest,
    restPosition: positionAt(split.restOffset),
    heredocs: [],
    original: text.trim(),
    position: positionAt(split.keywordOffset),
    startLine: logical.startLine,
    endLine: logical.endLine,
    comments: logical.comments,
    positionAt: (offset: number) => positionAt(split.restOffset + offset),
  };
  if (MAYBE_JSON.has(name)) {
    const json = parseJsonArray(split.rest);
    if (json.kind === 'not-strings') {
      fail(
        positionAt(split.restOffset + json.offset),
        'when using JSON array syntax, arrays must be comprised of strings only',
      );
    }
  }
  if (name === 'ONBUILD' && split.rest !== '') {
    node.child = instructionFromLine(file, logical, base + split.restOffset, split.rest, fail);
  }
  return node;
}
