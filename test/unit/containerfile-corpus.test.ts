/**
 * The front half of `hutch build` over the whole corpus (test/corpus): every
 * good entry parses, plans, expands step by step and finds its COPY/ADD
 * sources in its context; every bad entry that the front half can judge fails
 * with the expected file:line:column and message. Entries whose error only a
 * build can show (`"when": "build"`) must pass here.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadContainerfile } from '../../src/build/containerfile/instruction-parser.js';
import { resolveInstruction } from '../../src/build/containerfile/resolve.js';
import { GlobalScope, StageScope, type PlatformPair } from '../../src/build/containerfile/scope.js';
import { planStages } from '../../src/build/containerfile/stages.js';
import { isHttpUrl } from '../../src/build/containerfile/values.js';
import { BuildfileError } from '../../src/build/containerfile/parser.js';
import { BuildContext } from '../../src/build/context.js';
import { checkDestination, sourceRefs } from '../../src/build/sources.js';
import { HutchError } from '../../src/errors.js';
import { entryBuildArgs, loadCorpus, prepareContext, type CorpusEntry } from '../helpers/differential.js';

const platforms: PlatformPair = {
  build: { os: 'linux', architecture: 'amd64' },
  target: { os: 'linux', architecture: 'amd64' },
};
const BASE_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];

const scratch = mkdtempSync(join(tmpdir(), 'hutch-corpus-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Everything the front half does for one build; throws what it finds. */
async function frontHalf(entry: CorpusEntry): Promise<{ steps: number }> {
  const context = prepareContext(entry, scratch);
  const file = entry.expect.file ?? 'Containerfile';
  const cf = loadContainerfile(readFileSync(join(context, file), 'utf8'), { file });
  const global = new GlobalScope(
    new Map(Object.entries(entryBuildArgs(entry, '127.0.0.1:5000', 'http://127.0.0.1:8080'))),
    platforms,
  );
  const plan = planStages(cf, global, entry.expect.target === undefined ? {} : { target: entry.expect.target });
  const ctx = await BuildContext.open(context, { containerfile: join(context, file) });
  const scopes = new Map<number, StageScope>();
  let steps = 0;
  for (const index of plan.needed) {
    const stage = cf.stages[index];
    const base = plan.bases[index];
    if (stage === undefined || base === undefined) throw new Error('plan names a missing stage');
    const scope =
      base.kind === 'stage'
        ? (scopes.get(base.index) as StageScope).childStage()
        : new StageScope(global, base.kind === 'scratch' ? [] : BASE_ENV);
    scopes.set(index, scope);
    for (const instruction of stage.instructions) {
      const step = resolveInstruction(cf, instruction, scope);
      steps++;
      if (step.kind === 'ENV') for (const p of step.pairs) scope.setEnv(p.key, p.value);
      if ((step.kind === 'COPY' || step.kind === 'ADD') && instruction.kind === step.kind) {
        if (step.kind === 'COPY' && step.from !== undefined) continue;
        const local = sourceRefs(instruction, step.sources).filter((r) => !isHttpUrl(r.source));
        const sources = await ctx.resolveSources(local, {
          file,
          instruction: step.kind,
          excludes: step.excludes,
        });
        checkDestination(
          file,
          step.kind,
          sources,
          { text: step.dest, position: instruction.dest.position },
          {
            inlineCount: step.inline.length + (step.sources.length - local.length),
          },
        );
        await ctx.hashSources(sources);
      }
    }
  }
  return { steps };
}

const corpus = loadCorpus();

describe('the corpus', () => {
  it('has at least 60 good entries and covers every instruction', () => {
    const good = corpus.filter((e) => !e.bad);
    expect(good.length).toBeGreaterThanOrEqual(60);
    const seen = new Set<string>();
    for (const entry of good) {
      const file = entry.expect.file ?? 'Containerfile';
      const cf = loadContainerfile(readFileSync(join(entry.dir, file), 'utf8'));
      seen.add('FROM');
      for (const stage of cf.stages) for (const i of stage.instructions) seen.add(i.kind);
      if (cf.globalArgs.length > 0) seen.add('ARG');
    }
    expect([...seen].sort()).toEqual(
      [
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
      ].sort(),
    );
  });
});

describe.each(corpus.filter((e) => !e.bad).map((e) => [e.name, e] as const))('good: %s', (_name, entry) => {
  it('parses, plans, expands and finds its sources', async () => {
    const { steps } = await frontHalf(entry);
    expect(steps).toBeGreaterThanOrEqual(0);
  });
});

describe.each(corpus.filter((e) => e.bad).map((e) => [e.name, e] as const))('bad: %s', (_name, entry) => {
  const want = entry.expect.error;
  it(
    entry.expect.when === 'build' ? 'passes the front half (the build must fail)' : 'fails where expected',
    async () => {
      if (want === undefined) throw new Error(`${entry.name}: no expected error`);
      let caught: unknown;
      try {
        await frontHalf(entry);
      } catch (error) {
        caught = error;
      }
      if (entry.expect.when === 'build') {
        expect(caught).toBeUndefined();
        return;
      }
      expect(caught, `${entry.name} did not fail`).toBeInstanceOf(HutchError);
      const error = caught as HutchError;
      expect(error.message).toMatch(new RegExp(want.message));
      if (want.line === 0) {
        expect(error).not.toBeInstanceOf(BuildfileError);
        return;
      }
      expect(error).toBeInstanceOf(BuildfileError);
      const located = error as BuildfileError;
      expect([located.file, located.line, located.column]).toEqual([
        entry.expect.file ?? 'Containerfile',
        want.line,
        want.column ?? located.column,
      ]);
    },
  );
});
