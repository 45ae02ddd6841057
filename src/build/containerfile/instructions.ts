/**
 * What a Containerfile instruction is once parsed: one typed object per
 * instruction kind (words kept as written, with their positions, until the
 * step that runs them expands them), the stages they form, the instruction
 * names and the flags each one accepts. The parser is instruction-parser.ts;
 * docs/containerfile.md is the reference, and lists where hutch differs from
 * Docker and BuildKit.
 */
import type { ContainerfileAst, HeredocNode, InstructionNode, Position } from './ast.js';
import type { EscapeChar } from './expand.js';

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

/** How a flag takes its value: `--name=v`, `--name[=true|false]`, or repeated `--name=v`. */
export type FlagKind = 'string' | 'bool' | 'list';

/** The flags each instruction accepts (BuildKit's BFlags); any other flag is an error. */
export const FLAGS: Record<string, Record<string, FlagKind>> = {
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

/** ` (did you mean X?)` for a misspelled instruction name, or nothing. */
export function suggestion(name: string): string {
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
