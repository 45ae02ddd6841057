import { describe, expect, it } from 'vitest';
import { loadContainerfile } from '../../src/build/containerfile/instruction-parser.js';
import { GlobalScope, type PlatformPair } from '../../src/build/containerfile/scope.js';
import { planStages, UnknownTargetError } from '../../src/build/containerfile/stages.js';

const platforms: PlatformPair = {
  build: { os: 'linux', architecture: 'amd64' },
  target: { os: 'linux', architecture: 'amd64' },
};

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
