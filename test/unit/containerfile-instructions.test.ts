import { describe, expect, it } from 'vitest';
import { GlobalScope, StageScope, type PlatformPair } from '../../src/build/containerfile/expand.js';
import {
  commandArgs,
  loadContainerfile,
  parseGoDuration,
  parseTrigger,
  planStages,
  resolveInstruction,
  resolveWorkdir,
  runArgs,
  UnknownTargetError,
  type Containerfile,
  type Instruction,
} from '../../src/build/containerfile/instructions.js';
import { BuildfileError } from '../../src/build/containerfile/parser.js';

const platforms: PlatformPair = {
  build: { os: 'linux', architecture: 'amd64' },
  target: { os: 'linux', architecture: 'amd64' },
};

function only(text: string): Instruction {
  const cf = loadContainerfile(`FROM busybox\n${text}\n`);
  return cf.stages[0]?.instructions[0] as Instruction;
}

function error(text: string): string {
  try {
    loadContainerfile(text);
  } catch (e) {
    if (e instanceof BuildfileError) return e.message;
    throw e;
  }
  throw new Error('no error');
}

function resolved(text: string, buildArgs: Record<string, string> = {}, env: string[] = []) {
  const cf = loadContainerfile(text);
  const global = new GlobalScope(new Map(Object.entries(buildArgs)), platforms);
  planStages(cf, global);
  const scope = new StageScope(global, env);
  return { cf, scope, steps: cf.stages[0]?.instructions.map((i) => resolveInstruction(cf, i, scope)) ?? [] };
}

describe('instructions', () => {
  it('FROM: image, AS name (lower case), --platform', () => {
    const cf = loadContainerfile('FROM --platform=$BUILDPLATFORM golang:1.22 AS Build\nFROM scratch\n');
    expect(cf.stages.map((s) => [s.name, s.from.image.text, s.from.platform?.text])).toEqual([
      ['build', 'golang:1.22', '$BUILDPLATFORM'],
      [undefined, 'scratch', undefined],
    ]);
    expect(error('FROM a b\n')).toBe('Containerfile:1:6: FROM requires either one or three arguments');
    expect(error('FROM a AS 1x\n')).toMatch(/^Containerfile:1:11: invalid name for build stage: "1x"/);
    expect(error('FROM a AS x\nFROM b AS X\n')).toMatch(/^Containerfile:2:1: duplicate stage name "x"/);
  });

  it('RUN: shell and exec forms, mounts, network', () => {
    const run = only(
      'RUN --mount=type=cache,target=/root/.cache,sharing=locked --mount=type=secret,id=tok --network=none ["sh", "-c", "true"]',
    );
    expect(run.kind).toBe('RUN');
    if (run.kind !== 'RUN') return;
    expect(run.command.form).toBe('exec');
    expect(run.network).toBe('none');
    expect(run.mounts.map((m) => [m.type, m.target?.text, m.sharing, m.readonly, m.id?.text])).toEqual([
      ['cache', '/root/.cache', 'locked', false, undefined],
      ['secret', undefined, undefined, true, 'tok'],
    ]);
    expect(error('FROM a\nRUN --mount=type=nfs,target=/x true\n')).toMatch(
      /^Containerfile:2:13: unsupported mount type "nfs"/,
    );
    expect(error('FROM a\nRUN --mount=type=bind,size=1 true\n')).toMatch(/unexpected key 'size' for mount type 'bind'/);
    expect(error('FROM a\nRUN --network=bridge true\n')).toMatch(/^Containerfile:2:15: unsupported network mode/);
    expect(error('FROM a\nRUN --frobnicate true\n')).toBe('Containerfile:2:5: unknown flag: frobnicate');
    expect(error('FROM a\nRUN\n')).toBe('Containerfile:2:1: RUN requires at least one argument');
  });

  it('COPY and ADD: sources, dest, flags, heredoc sources', () => {
    const copy = only('COPY --from=build --chown=1000:1000 --chmod=0640 --link a b* <<EOF /dst/\nhello $X\nEOF');
    expect(copy.kind).toBe('COPY');
    if (copy.kind !== 'COPY') return;
    expect(copy.sources.map((s) => s.text)).toEqual(['a', 'b*']);
    expect(copy.sources.map((s) => s.position.column)).toEqual([57, 59]);
    expect(copy.inline).toEqual([{ name: 'EOF', content: 'hello $X\n', expand: true }]);
    expect([copy.dest.text, copy.from?.text, copy.chown?.text, copy.chmod?.text, copy.link]).toEqual([
      '/dst/',
      'build',
      '1000:1000',
      '0640',
      true,
    ]);
    const json = only('COPY ["a b", "/x y/"]');
    if (json.kind !== 'COPY') throw new Error('not COPY');
    expect(json.sources.map((s) => s.text)).toEqual(['a b']);
    const add = only(
      'ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.org/a.tgz /',
    );
    if (add.kind !== 'ADD') throw new Error('not ADD');
    expect(add.checksum?.text).toMatch(/^sha256:/);
    expect(error('FROM a\nCOPY onlyone\n')).toMatch(/^Containerfile:2:1: COPY requires at least two arguments/);
    expect(error('FROM a\nCOPY --chmod=999 a b\n')).toMatch(/^Containerfile:2:14: invalid --chmod value "999"/);
    expect(error('FROM a\nADD --checksum=sha256:00 a b /\n')).toMatch(
      /checksum can't be specified for multiple sources/,
    );
    expect(error('FROM a\nADD --checksum=sha256:00 local.tgz /\n')).toMatch(
      /checksum requires the source to be an HTTP\(S\) URL/,
    );
    expect(error('FROM a\nCOPY --from=x --from=y a b\n')).toBe('Containerfile:2:15: Duplicate flag specified: from');
    expect(error('FROM a\nCOPY --link=maybe a b\n')).toMatch(/expecting boolean value for flag link, not: maybe/);
    expect(error('FROM a\nCOPY a <<EOF\nx\nEOF\n')).toMatch(/COPY cannot accept a heredoc as a destination/);
  });

  it('ENV and LABEL: both forms', () => {
    const env = only('ENV A=1 B="two words" C=three\\ words');
    if (env.kind !== 'ENV') throw new Error('not ENV');
    expect(env.pairs.map((p) => [p.key.text, p.value.text])).toEqual([
      ['A', '1'],
      ['B', '"two words"'],
      ['C', 'three\\ words'],
    ]);
    const legacy = only('ENV GREETING hello  world');
    if (legacy.kind !== 'ENV') throw new Error('not ENV');
    expect(legacy.pairs.map((p) => [p.key.text, p.value.text])).toEqual([['GREETING', 'hello  world']]);
    expect(error('FROM a\nENV ONLYKEY\n')).toBe('Containerfile:2:5: ENV must have two arguments');
    expect(error('FROM a\nENV A=1 B\n')).toMatch(/^Containerfile:2:9: Syntax error - can't find = in "B"/);
    expect(error('FROM a\nLABEL =x\n')).toBe('Containerfile:2:7: LABEL names can not be blank');
  });

  it('EXPOSE, STOPSIGNAL, HEALTHCHECK, SHELL, VOLUME are checked', () => {
    expect(error('FROM a\nEXPOSE 80/tcp 99999\n')).toBe('Containerfile:2:15: invalid containerPort: 99999');
    expect(error('FROM a\nEXPOSE 80/icmp\n')).toBe('Containerfile:2:8: invalid proto: icmp');
    expect(error('FROM a\nSTOPSIGNAL SIGFOO\n')).toBe('Containerfile:2:12: Invalid signal: SIGFOO');
    expect(error('FROM a\nSHELL /bin/bash -c\n')).toMatch(
      /^Containerfile:2:7: SHELL requires the arguments to be in JSON form/,
    );
    expect(error('FROM a\nVOLUME [""]\n')).toMatch(/VOLUME specified can not be an empty string/);
    const hc = only(
      'HEALTHCHECK --interval=1m30s --timeout=5s --start-period=1.5s --start-interval=500ms --retries=3 CMD curl -f http://localhost/',
    );
    if (hc.kind !== 'HEALTHCHECK') throw new Error('not HEALTHCHECK');
    expect(hc.healthcheck).toEqual({
      test: ['CMD-SHELL', 'curl -f http://localhost/'],
      interval: 90e9,
      timeout: 5e9,
      startPeriod: 1.5e9,
      startInterval: 500e6,
      retries: 3,
    });
    const none = only('HEALTHCHECK NONE');
    if (none.kind !== 'HEALTHCHECK') throw new Error('not HEALTHCHECK');
    expect(none.healthcheck).toEqual({ test: ['NONE'] });
    expect(error('FROM a\nHEALTHCHECK --interval=10 CMD true\n')).toMatch(/^Containerfile:2:24: time: missing unit/);
    expect(error('FROM a\nHEALTHCHECK --timeout=10us CMD true\n')).toMatch(/cannot be less than 1ms/);
    expect(error('FROM a\nHEALTHCHECK RUN true\n')).toMatch(/Unknown type "RUN" in HEALTHCHECK \(try CMD\)/);
  });

  it('ONBUILD: a nested instruction, not ONBUILD, FROM or MAINTAINER', () => {
    const ob = only('ONBUILD COPY --chown=1:1 . /app');
    if (ob.kind !== 'ONBUILD') throw new Error('not ONBUILD');
    expect(ob.expression).toBe('COPY --chown=1:1 . /app');
    expect(ob.trigger.kind).toBe('COPY');
    expect(error('FROM a\nONBUILD ONBUILD RUN x\n')).toMatch(/Chaining ONBUILD/);
    expect(error('FROM a\nONBUILD FROM b\n')).toBe("Containerfile:2:9: FROM isn't allowed as an ONBUILD trigger");
    const trigger = parseTrigger('RUN echo from a trigger');
    expect(trigger.kind).toBe('RUN');
  });

  it('MAINTAINER, USER, WORKDIR, ARG', () => {
    expect(only('MAINTAINER Jane <jane@example.org>')).toMatchObject({ maintainer: 'Jane <jane@example.org>' });
    const arg = only('ARG A B=2 C="x y"');
    if (arg.kind !== 'ARG') throw new Error('not ARG');
    expect(arg.args.map((a) => [a.name, a.default?.text])).toEqual([
      ['A', undefined],
      ['B', '2'],
      ['C', '"x y"'],
    ]);
    expect(error('FROM a\nUSER\n')).toBe('Containerfile:2:1: USER requires exactly one argument');
  });

  it('unknown instructions, with a suggestion; instructions before FROM', () => {
    expect(error('FROM a\nCOPPY a b\n')).toBe('Containerfile:2:1: unknown instruction: COPPY (did you mean COPY?)');
    expect(error('FROM a\n  FOO bar\n')).toBe('Containerfile:2:3: unknown instruction: FOO (did you mean FROM?)');
    expect(error('FROM a\nfrobnicate\n')).toBe('Containerfile:2:1: unknown instruction: frobnicate');
    expect(error('ENV A=1\nFROM a\n')).toMatch(/^Containerfile:1:1: ENV before the first FROM/);
  });

  it('Go durations', () => {
    const fail = (r: string): never => {
      throw new Error(r);
    };
    expect(parseGoDuration('1h2m3.5s', fail)).toBe(3723.5e9);
    expect(parseGoDuration('0', fail)).toBe(0);
    expect(parseGoDuration('1µs', fail)).toBe(1000);
    expect(() => parseGoDuration('1d', fail)).toThrow('unknown unit "d"');
  });
});

describe('stages', () => {
  const text = `ARG BASE=busybox
ARG TAG=latest
FROM \${BASE}:\${TAG} AS base
RUN true
FROM base AS build
RUN true
FROM busybox AS tools
FROM scratch AS docs
COPY --from=tools /bin/sh /sh
FROM base
COPY --from=build /out /out
COPY --from=2 /x /x
RUN --mount=type=bind,from=docs,target=/docs true
COPY --from=alpine:3 /etc/os-release /
`;
  it('bases, dependencies, the target and the waves', () => {
    const cf = loadContainerfile(text);
    const plan = planStages(cf, new GlobalScope(new Map([['TAG', '1.36']]), platforms));
    expect(plan.bases).toEqual([
      { kind: 'image', reference: 'busybox:1.36', platform: undefined },
      { kind: 'stage', index: 0 },
      { kind: 'image', reference: 'busybox', platform: undefined },
      { kind: 'scratch' },
      { kind: 'stage', index: 0 },
    ]);
    expect(plan.dependencies[4]?.map((d) => (d.kind === 'stage' ? d.index : d.reference))).toEqual([
      0,
      1,
      2,
      3,
      'alpine:3',
    ]);
    expect(plan.target).toBe(4);
    expect(plan.needed).toEqual([0, 1, 2, 3, 4]);
    expect(plan.waves).toEqual([[0, 2], [1, 3], [4]]);
  });

  it('--target builds only what it needs', () => {
    const cf = loadContainerfile(text);
    const plan = planStages(cf, new GlobalScope(new Map(), platforms), { target: 'Docs' });
    expect([plan.target, plan.needed, plan.waves]).toEqual([3, [2, 3], [[2], [3]]]);
    expect(() => planStages(cf, new GlobalScope(new Map(), platforms), { target: 'nope' })).toThrow(UnknownTargetError);
  });

  it('a later or unknown stage index, a stage copying from itself', () => {
    const plan = (t: string) => planStages(loadContainerfile(t), new GlobalScope(new Map(), platforms));
    expect(() => plan('FROM a\nCOPY --from=1 /x /x\nFROM b AS later\nCOPY --from=0 /y /y\n')).toThrow(
      'Containerfile:2:13: cannot copy from stage "1", it needs to be defined before current stage "stage-0"',
    );
    // A stage the target does not need may read a later one: BuildKit never looks at it.
    expect(() => plan('FROM a AS x\nCOPY --from=later /x /x\nFROM b AS later\n')).not.toThrow();
    expect(() => plan('FROM a\nCOPY --from=5 /x /x\n')).toThrow('Containerfile:2:13: invalid stage index 5');
    expect(() => plan('FROM a AS me\nCOPY --from=me /x /x\n')).toThrow('circular dependency detected on stage: me');
    expect(() =>
      planStages(
        loadContainerfile('FROM a AS x\nCOPY --from=later /x /x\nFROM b AS later\n'),
        new GlobalScope(new Map(), platforms),
        {
          target: 'x',
        },
      ),
    ).toThrow(/cannot copy from stage "later", it needs to be defined before current stage "x"/);
  });

  it('FROM and --from expand with global ARGs only', () => {
    const cf = loadContainerfile('ARG V=3\nFROM alpine:$V\nARG V\nFROM busybox:${V:-none}\nFROM x:${UNSET}\n');
    expect(() => planStages(cf, new GlobalScope(new Map(), platforms))).not.toThrow();
    const plan = planStages(cf, new GlobalScope(new Map(), platforms));
    expect(plan.bases.map((b) => (b.kind === 'image' ? b.reference : b.kind))).toEqual(['alpine:3', 'busybox:3', 'x:']);
    const blank = loadContainerfile('FROM ${NOTHING}\n');
    expect(() => planStages(blank, new GlobalScope(new Map(), platforms))).toThrow('should not be blank');
  });
});

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
