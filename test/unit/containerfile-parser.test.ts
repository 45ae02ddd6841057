import { describe, expect, it } from 'vitest';
import { BuildfileError, parseContainerfile } from '../../src/build/containerfile/parser.js';
import type { InstructionNode } from '../../src/build/containerfile/ast.js';

const parse = (text: string) => parseContainerfile(text);
const names = (text: string) => parse(text).instructions.map((i) => i.name);

function error(text: string): BuildfileError {
  try {
    parse(text);
  } catch (e) {
    if (e instanceof BuildfileError) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('lines', () => {
  it('comments, blank lines, instruction names in any case', () => {
    const cf = parse('# a comment\n\nfrom busybox\n  # indented comment\nRun echo hi\n\n');
    expect(cf.instructions.map((i) => [i.keyword, i.name, i.rest])).toEqual([
      ['from', 'FROM', 'busybox'],
      ['Run', 'RUN', 'echo hi'],
    ]);
    expect(cf.instructions[1]?.comments).toEqual(['indented comment']);
  });

  it('joins continuation lines, skips comment lines between them, keeps positions', () => {
    const cf = parse('FROM busybox\nRUN echo a \\\n# inside\n    && echo b \\\n\n  && echo c\n');
    const run = cf.instructions[1] as InstructionNode;
    expect(run.rest).toBe('echo a     && echo b   && echo c');
    expect(run.startLine).toBe(2);
    expect(run.endLine).toBe(6);
    expect(run.positionAt(run.rest.indexOf('&& echo b'))).toEqual({ line: 4, column: 5 });
    expect(run.positionAt(run.rest.indexOf('&& echo c'))).toEqual({ line: 6, column: 3 });
    expect(cf.warnings.map((w) => w.position.line)).toEqual([2]);
  });

  it('an escaped escape character at the end does not continue the line', () => {
    const cf = parse('FROM busybox\nRUN echo a\\\\\nRUN echo b\n');
    expect(cf.instructions.map((i) => i.rest)).toEqual(['busybox', 'echo a\\\\', 'echo b']);
  });

  it('CRLF line ends and a BOM', () => {
    const cf = parse('\uFEFFFROM busybox\r\nRUN echo a \\\r\n  b\r\n');
    expect(cf.instructions.map((i) => i.rest)).toEqual(['busybox', 'echo a   b']);
  });

  it('a file without instructions is an error', () => {
    expect(error('# nothing\n\n').reason).toBe('file with no instructions');
  });
});

describe('directives', () => {
  it('escape=` changes the continuation and escape character', () => {
    const cf = parse('# escape=`\nFROM busybox\nRUN dir C:\\ `\n  && echo done\n');
    expect(cf.escape).toBe('`');
    expect(cf.instructions[1]?.rest).toBe('dir C:\\   && echo done');
    expect(cf.directives.map((d) => [d.name, d.value])).toEqual([['escape', '`']]);
  });

  it('syntax and check are recorded; directive names in any case, spaces allowed', () => {
    const cf = parse('# syntax = docker/dockerfile:1\n#CHECK=skip=all\nFROM busybox\n');
    expect(cf.directives.map((d) => [d.name, d.value])).toEqual([
      ['syntax', 'docker/dockerfile:1'],
      ['check', 'skip=all'],
    ]);
  });

  it('only at the top: after a comment, a blank line or an instruction they are comments', () => {
    expect(parse('# hello\n# escape=`\nFROM busybox\n').escape).toBe('\\');
    expect(parse('\n# escape=`\nFROM busybox\n').escape).toBe('\\');
    expect(parse('FROM busybox\n# escape=`\n').escape).toBe('\\');
    expect(parse('# unknown=x\n# escape=`\nFROM busybox\n').escape).toBe('\\');
  });

  it('errors: a repeated directive, a bad escape, a bad check option', () => {
    const twice = error('# escape=\\\n# escape=`\nFROM busybox\n');
    expect(twice.message).toBe('Containerfile:2:1: only one escape parser directive can be used');
    expect(error('# escape=x\nFROM busybox\n').reason).toMatch(/invalid escape token 'x'/);
    expect(error('# check=bogus\nFROM busybox\n').reason).toMatch(/invalid check option/);
  });
});

describe('flags', () => {
  it('flags with positions; quotes removed; -- ends them', () => {
    const cf = parse(
      'FROM busybox\nCOPY --from=build --chmod=0755  --link a b\nRUN --mount="type=cache,target=/c" -- --not-a-flag\n',
    );
    const copy = cf.instructions[1] as InstructionNode;
    expect(copy.flags.map((f) => [f.name, f.value, f.position.column, f.valuePosition.column])).toEqual([
      ['from', 'build', 6, 13],
      ['chmod', '0755', 19, 27],
      ['link', undefined, 33, 33],
    ]);
    expect(copy.rest).toBe('a b');
    expect(copy.restPosition).toEqual({ line: 2, column: 40 });
    const run = cf.instructions[2] as InstructionNode;
    expect(run.flags.map((f) => [f.name, f.value])).toEqual([['mount', 'type=cache,target=/c']]);
    expect(run.rest).toBe('--not-a-flag');
  });
});

describe('JSON and shell forms', () => {
  it('a JSON array of strings is exec form; anything else is shell form', () => {
    const cf = parse('FROM busybox\nCMD ["a", "b"]\nCMD [a, b]\nCMD ["a", "b"] trailing\n');
    expect(cf.instructions.slice(1).map((i) => i.rest)).toEqual(['["a", "b"]', '[a, b]', '["a", "b"] trailing']);
  });

  it('a JSON array with a non-string is an error, with its column', () => {
    const e = error('FROM busybox\nRUN ["echo", 1]\n');
    expect(e.message).toBe(
      'Containerfile:2:14: when using JSON array syntax, arrays must be comprised of strings only',
    );
  });
});

describe('heredocs', () => {
  it('RUN <<EOF reads the body from the following lines', () => {
    const cf = parse('FROM busybox\nRUN <<EOF\necho $HOME\necho two\nEOF\nRUN echo after\n');
    const run = cf.instructions[1] as InstructionNode;
    expect(run.heredocs).toEqual([
      {
        name: 'EOF',
        expand: true,
        chomp: false,
        fd: undefined,
        content: 'echo $HOME\necho two\n',
        position: { line: 2, column: 5 },
        bodyLine: 3,
      },
    ]);
    expect(run.endLine).toBe(5);
    expect(cf.instructions[2]?.rest).toBe('echo after');
  });

  it('<<- strips tabs from the terminator line; quoted names turn expansion off; several per line', () => {
    const cf = parse(
      'FROM busybox\nRUN <<-A cat - /dev/fd/3 3<<"B"\n\tone\n\tA\ntwo $X\nB\nCOPY <<\'EOF\' /x\n$literal\nEOF\n',
    );
    const run = cf.instructions[1] as InstructionNode;
    expect(run.heredocs.map((h) => [h.name, h.chomp, h.expand, h.fd, h.content])).toEqual([
      ['A', true, true, undefined, '\tone\n'],
      ['B', false, false, 3, 'two $X\n'],
    ]);
    const copy = cf.instructions[2] as InstructionNode;
    expect(copy.heredocs.map((h) => [h.name, h.expand, h.content])).toEqual([['EOF', false, '$literal\n']]);
  });

  it('not for other instructions, nor in JSON form, nor quoted', () => {
    const cf = parse('FROM busybox\nCMD <<EOF\nRUN ["cat", "<<EOF"]\nRUN echo "<<EOF"\n');
    expect(cf.instructions.map((i) => i.heredocs.length)).toEqual([0, 0, 0, 0]);
    expect(names('FROM busybox\nLABEL a=<<EOF\nRUN true\n')).toEqual(['FROM', 'LABEL', 'RUN']);
  });

  it('ONBUILD RUN <<EOF belongs to the trigger', () => {
    const cf = parse('FROM busybox\nONBUILD RUN <<EOF\necho hi\nEOF\n');
    const onbuild = cf.instructions[1] as InstructionNode;
    expect(onbuild.child?.name).toBe('RUN');
    expect(onbuild.child?.heredocs.map((h) => h.content)).toEqual(['echo hi\n']);
  });

  it('an unterminated heredoc names the line of <<', () => {
    const e = error('FROM busybox\nRUN true\nRUN <<EOF\necho never ends\n');
    expect(e.message).toMatch(/^Containerfile:3:5: unterminated heredoc EOF/);
  });
});

describe('error locations', () => {
  it('BuildfileError carries file, line, column and the bare reason', () => {
    const e = (() => {
      try {
        parseContainerfile('# escape=`\n# escape=`\nFROM x\n', { file: 'app/Containerfile' });
      } catch (err) {
        return err as BuildfileError;
      }
      throw new Error('no error');
    })();
    expect(e).toBeInstanceOf(BuildfileError);
    expect([e.file, e.line, e.column, e.reason]).toEqual([
      'app/Containerfile',
      2,
      1,
      'only one escape parser directive can be used',
    ]);
    expect(e.exitCode).toBe(125);
  });
});
