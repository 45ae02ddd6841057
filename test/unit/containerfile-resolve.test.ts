import { describe, expect, it } from 'vitest';
import { loadContainerfile } from '../../src/build/containerfile/instruction-parser.js';
import type { Containerfile } from '../../src/build/containerfile/instructions.js';
import { commandArgs, resolveInstruction, resolveWorkdir, runArgs } from '../../src/build/containerfile/resolve.js';
import { GlobalScope, StageScope, type PlatformPair } from '../../src/build/containerfile/scope.js';
import { planStages } from '../../src/build/containerfile/stages.js';

const platforms: PlatformPair = {
  build: { os: 'linux', architecture: 'amd64' },
  target: { os: 'linux', architecture: 'amd64' },
};

function resolved(text: string, buildArgs: Record<string, string> = {}, env: string[] = []) {
  const cf = loadContainerfile(text);
  const global = new GlobalScope(new Map(Object.entries(buildArgs)), platforms);
  planStages(cf, global);
  const scope = new StageScope(global, env);
  return { cf, scope, steps: cf.stages[0]?.instructions.map((i) => resolveInstruction(cf, i, scope)) ?? [] };
}

describe('resolveInstruction: expansion step by step', () => {
  it('ENV pairs expand with the scope before the instruction; ARG applies at once', () => {
    const { steps, scope } = resolved(
      'FROM a\nENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc\nARG X=1 Y=$X\nLABEL "k $X"="v ${Y}"\n',
    );
    const envs = steps.filter((s) => s.kind === 'ENV');
    expect(envs.map((s) => (s.kind === 'ENV' ? s.pairs : []))).toEqual([
      [{ key: 'abc', value: 'hello' }],
      [
        { key: 'abc', value: 'bye' },
        { key: 'def', value: '' },
      ],
      [{ key: 'ghi', value: '' }],
    ]);
    expect(steps[4]).toMatchObject({ kind: 'LABEL', pairs: [{ key: 'k 1', value: 'v 1' }] });
    expect(scope.get('Y')).toBe('1');
  });

  it('the executor applies ENV to the scope, so later steps see it', () => {
    const cf = loadContainerfile('FROM a\nENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc\n');
    const global = new GlobalScope(new Map(), platforms);
    planStages(cf, global);
    const scope = new StageScope(global, []);
    const out = [];
    for (const i of cf.stages[0]?.instructions ?? []) {
      const r = resolveInstruction(cf, i, scope);
      if (r.kind === 'ENV') for (const p of r.pairs) scope.setEnv(p.key, p.value);
      out.push(r);
    }
    expect(scope.env()).toEqual(['abc=bye', 'def=hello', 'ghi=bye']);
  });

  it('COPY words, flags and heredoc bodies; RUN words untouched; mounts expanded', () => {
    const { steps } = resolved(
      'FROM a\nARG D=/dst U=1000\nCOPY --chown=$U:$U --chmod=0644 src/$D* <<EOF ${D}/\nuser=$U\nEOF\nCOPY <<"RAW" /raw\n$U\nRAW\nRUN --mount=type=cache,target=$D/cache echo $U\nEXPOSE 80 ${P:-443/udp}\nSTOPSIGNAL SIGRTMIN+3\nUSER $U:$U\nWORKDIR $D\nVOLUME ["$D/data"]\n',
    );
    expect(steps[1]).toMatchObject({
      kind: 'COPY',
      sources: ['src//dst*'],
      dest: '/dst/',
      chown: '1000:1000',
      chmod: '0644',
      inline: [{ name: 'EOF', content: 'user=1000\n' }],
    });
    expect(steps[2]).toMatchObject({ kind: 'COPY', inline: [{ name: 'RAW', content: '$U\n', expand: false }] });
    expect(steps[3]).toMatchObject({
      kind: 'RUN',
      command: { form: 'shell', command: 'echo $U' },
      mounts: [{ type: 'cache', target: '/dst/cache', id: '/dst/cache' }],
    });
    expect(steps[4]).toMatchObject({ kind: 'EXPOSE', ports: ['80/tcp', '443/udp'] });
    expect(steps.slice(5).map((s) => Object.values(s)[2])).toEqual(['SIGRTMIN+3', '1000:1000', '/dst', ['/dst/data']]);
  });

  it('errors after expansion name the word', () => {
    const run = (t: string) => () => resolved(t);
    expect(run('FROM a\nARG P=abc\nEXPOSE $P\n')).toThrow('Containerfile:3:8: invalid containerPort: abc');
    expect(run('FROM a\nARG S=NOPE\nSTOPSIGNAL $S\n')).toThrow('Containerfile:3:12: Invalid signal: NOPE');
    expect(run('FROM a\nCOPY ${X a\n')).toThrow(
      /^Containerfile:2:6: failed to process "\$\{X": syntax error: missing '}'/,
    );
    expect(run('FROM a\nARG M=abc\nRUN --mount=type=cache,target=/c,mode=$M true\n')).toThrow(/invalid mode "abc"/);
  });
});

describe('helpers', () => {
  it('commandArgs and runArgs as BuildKit runs them', () => {
    expect(commandArgs({ form: 'shell', command: 'echo hi' })).toEqual(['/bin/sh', '-c', 'echo hi']);
    expect(commandArgs({ form: 'exec', args: ['a', 'b'] }, ['bash', '-c'])).toEqual(['a', 'b']);
    const cf: Containerfile = loadContainerfile(
      'FROM a\nRUN <<EOF\necho one\nEOF\nRUN <<-S\n\t#!/bin/sh\n\techo two\n\tS\nRUN cat <<A > /a && cat <<B > /b\na\nA\nb\nB\n',
    );
    const runs = cf.stages[0]?.instructions.map((i) => {
      if (i.kind !== 'RUN') throw new Error('not RUN');
      return runArgs({
        command: { form: 'shell', command: (i.command as { command: { text: string } }).command.text },
        heredocs: i.heredocs,
      });
    });
    expect(runs).toEqual([
      { args: ['/bin/sh', '-c', 'echo one\n'] },
      { args: ['/dev/pipes/S'], file: { path: '/dev/pipes/S', content: '#!/bin/sh\necho two\n', mode: 0o755 } },
      { args: ['/bin/sh', '-c', 'cat <<A > /a && cat <<B > /b\na\nA\nb\nB'] },
    ]);
  });

  it('resolveWorkdir', () => {
    expect(resolveWorkdir('', 'app')).toBe('/app');
    expect(resolveWorkdir('/app', 'sub/../src')).toBe('/app/src');
    expect(resolveWorkdir('/app', '/abs/')).toBe('/abs');
  });
});
