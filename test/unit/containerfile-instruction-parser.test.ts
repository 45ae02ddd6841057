import { describe, expect, it } from 'vitest';
import {
  loadContainerfile,
  loadContainerfiles,
  parseTrigger,
} from '../../src/build/containerfile/instruction-parser.js';
import type { Instruction } from '../../src/build/containerfile/instructions.js';
import { BuildfileError } from '../../src/build/containerfile/parser.js';

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

  it('RUN: shell and exec forms, network', () => {
    const run = only('RUN --network=none ["sh", "-c", "true"]');
    expect(run.kind).toBe('RUN');
    if (run.kind !== 'RUN') return;
    expect(run.command.form).toBe('exec');
    expect(run.network).toBe('none');
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
});

describe('several Containerfiles read as one (podman build -f A -f B)', () => {
  it("the second file's instructions follow the first's; errors name their own file", () => {
    const cf = loadContainerfiles([
      { text: 'FROM scratch\nCOPY . /tmp\n', file: 'A' },
      { text: 'FROM busybox AS two\nRUN true\n', file: 'B' },
    ]);
    expect(cf.file).toBe('A');
    expect(cf.stages.map((s) => [s.from.image.text, s.name, s.instructions.map((i) => i.kind)])).toEqual([
      ['scratch', undefined, ['COPY']],
      ['busybox', 'two', ['RUN']],
    ]);
    // A second file without FROM continues the first file's last stage.
    const joined = loadContainerfiles([
      { text: 'FROM busybox\n', file: 'A' },
      { text: 'RUN true\n', file: 'B' },
    ]);
    expect(joined.stages[0]?.instructions.map((i) => i.kind)).toEqual(['RUN']);
    expect(() =>
      loadContainerfiles([
        { text: 'FROM busybox\n', file: 'A' },
        { text: 'RUN true\nFROBNICATE\n', file: 'B' },
      ]),
    ).toThrow(/^B:2:1: unknown instruction: FROBNICATE/);
    expect(() =>
      loadContainerfiles([
        { text: 'FROM busybox AS x\n', file: 'A' },
        { text: 'FROM busybox AS x\n', file: 'B' },
      ]),
    ).toThrow(/^B:1:1: duplicate stage name "x"/);
  });
});
