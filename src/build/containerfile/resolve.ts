/**
 * Resolution: an instruction's words expanded in the scope of the step that
 * runs it, and checked again where only the expanded value can be (signals,
 * ports, --chmod, empty names); then what the executor needs to act on a
 * command line (the argv of a RUN, CMD or ENTRYPOINT, heredocs included) and
 * on WORKDIR. Errors are BuildfileError naming the word that failed.
 */
import { posix } from 'node:path';
import type { HeredocNode, InstructionNode } from './ast.js';
import { expand, expandHeredoc, ExpansionError, type EscapeChar, type Variables } from './expand.js';
import {
  DEFAULT_SHELL,
  type CommandLine,
  type Containerfile,
  type CopyFields,
  type Healthcheck,
  type Instruction,
  type KeyValue,
  type RunFields,
  type Text,
} from './instructions.js';
import { chompHeredoc, parseHeredocWord } from './lexer.js';
import { resolveMount } from './mount-flags.js';
import { BuildfileError } from './parser.js';
import type { StageScope } from './scope.js';
import { checkSignal, parsePorts, validChmod } from './values.js';

/** Expands one word of an instruction; an expansion error becomes a BuildfileError at the word. */
export function expandOrFail(file: string, text: Text, vars: Variables, escape: EscapeChar): string {
  try {
    return expand(text.text, vars, { escape }).word;
  } catch (error) {
    if (error instanceof ExpansionError) throw new BuildfileError(file, text.position, error.message, { cause: error });
    throw error;
  }
}

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
