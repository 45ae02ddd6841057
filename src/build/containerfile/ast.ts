/**
 * The syntax tree of a Containerfile: what the parser produces before any
 * instruction is interpreted. Positions are 1-based line and column (columns
 * count code points), so every error can say `Containerfile:3:5: …`.
 */
import type { EscapeChar } from './expand.js';

export interface Position {
  line: number;
  column: number;
}

/** A parser directive (`# syntax=`, `# escape=`, `# check=`) from the top of the file. */
export interface Directive {
  name: 'syntax' | 'escape' | 'check';
  value: string;
  position: Position;
}

/** A `--name=value` (or bare `--name`) flag of an instruction. */
export interface FlagNode {
  name: string;
  /** undefined for a bare `--name` (a boolean flag). */
  value: string | undefined;
  /** Where the `--` starts. */
  position: Position;
  /** Where the value starts (after `=`); the flag's position when bare. */
  valuePosition: Position;
}

/** A here-document attached to RUN, COPY or ADD (`<<EOF`, `<<-EOF`, `<<"EOF"`). */
export interface HeredocNode {
  /** The delimiter without quotes. */
  name: string;
  /** False when any part of the delimiter was quoted: the body is taken literally. */
  expand: boolean;
  /** `<<-`: leading tabs are stripped from the body lines and the delimiter line. */
  chomp: boolean;
  /** A file descriptor written before `<<` (`3<<EOF`), if any. */
  fd: number | undefined;
  /** The body as written, each line with its newline, leading tabs NOT yet stripped. */
  content: string;
  /** Where `<<` appears on the instruction line. */
  position: Position;
  /** The line of the first body line. */
  bodyLine: number;
}

/** A piece of the instruction's argument text with the position of its first character. */
export interface ArgWord {
  text: string;
  position: Position;
}

/**
 * One instruction: a logical line (continuations joined) plus its heredoc
 * bodies. `keyword` keeps the case it was written in; `name` is upper case.
 */
export interface InstructionNode {
  keyword: string;
  name: string;
  flags: FlagNode[];
  /** The text after the flags, trimmed (continuations joined, comment lines removed). */
  rest: string;
  /** Where `rest` starts. */
  restPosition: Position;
  heredocs: HeredocNode[];
  /** The logical line as written (continuations joined), for messages and history. */
  original: string;
  /** Where the keyword starts. */
  position: Position;
  /** First and last physical line of the instruction, heredoc bodies included. */
  startLine: number;
  endLine: number;
  /** The comment lines right above it (without `#`). */
  comments: string[];
  /** Maps an offset in `rest` to a position (argument words carry offsets into `rest`). */
  positionAt(offset: number): Position;
  /** For ONBUILD: the instruction it registers. */
  child?: InstructionNode;
}

export interface ParseWarning {
  message: string;
  position: Position;
}

/** A parsed Containerfile. */
export interface ContainerfileAst {
  /** The name errors use (the path as given, or `Containerfile`). */
  file: string;
  directives: Directive[];
  escape: EscapeChar;
  instructions: InstructionNode[];
  warnings: ParseWarning[];
}
