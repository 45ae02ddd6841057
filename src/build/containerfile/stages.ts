/**
 * The stages of a Containerfile as a graph: each stage's base (FROM expanded
 * in the global scope), what it reads from other stages or images (COPY
 * --from, RUN --mount from=), the stages a --target needs, and the waves in
 * which they can be built in parallel.
 */
import { HutchError } from '../../errors.js';
import type { Position } from './ast.js';
import type { GlobalScope } from './scope.js';
import { ExpansionError } from './expand.js';
import type { Containerfile, Stage, Text } from './instructions.js';
import { BuildfileError } from './parser.js';
import { expandOrFail } from './resolve.js';

export type StageBase =
  | { kind: 'scratch' }
  | { kind: 'stage'; index: number }
  | { kind: 'image'; reference: string; platform: string | undefined };

/** Something a stage reads from outside itself. */
export type StageDependency =
  | { kind: 'stage'; index: number; via: 'FROM' | 'COPY --from' | 'RUN --mount'; position: Position; ref?: string }
  | { kind: 'image'; reference: string; via: 'COPY --from' | 'RUN --mount'; position: Position };

export interface StagePlan {
  /** Each stage's resolved base (FROM expanded in the global scope). */
  bases: StageBase[];
  /** Each stage's dependencies, in instruction order. */
  dependencies: StageDependency[][];
  /** The stage the build produces. */
  target: number;
  /** The stages the target needs (itself included), ascending. */
  needed: number[];
  /**
   * The needed stages in waves: each wave depends only on earlier waves, so
   * the stages of one wave can be built in parallel.
   */
  waves: number[][];
}

export interface PlanOptions {
  /** --target: a stage name (any case) or index; the last stage by default. */
  target?: string;
}

/**
 * A `--from=` value: a stage by name or index, or an image. A stage that
 * reads itself is an error at once; one that reads a later stage only when
 * that stage is needed (planStages), as in BuildKit.
 */
function stageRef(
  cf: Containerfile,
  stage: Stage,
  value: string,
  via: 'COPY --from' | 'RUN --mount',
  position: Position,
): StageDependency {
  let index: number | undefined;
  if (/^\d+$/.test(value)) {
    index = Number(value);
    if (index >= cf.stages.length) throw new BuildfileError(cf.file, position, `invalid stage index ${index}`);
  } else {
    index = cf.stages.find((s) => s.name === value.toLowerCase())?.index;
  }
  if (index === undefined) return { kind: 'image', reference: value, via, position };
  if (index === stage.index) {
    throw new BuildfileError(
      cf.file,
      position,
      `circular dependency detected on stage: ${stage.name ?? `stage-${stage.index}`}`,
    );
  }
  return { kind: 'stage', index, via, position, ref: value };
}

/**
 * Declares the global ARGs in `global` (in order) and works out the stage
 * graph: bases, dependencies, the target and the waves of stages to build.
 * FROM images, FROM --platform and --from values are expanded in the global
 * scope. Throws BuildfileError.
 */
export function planStages(cf: Containerfile, global: GlobalScope, options: PlanOptions = {}): StagePlan {
  for (const arg of cf.globalArgs) {
    for (const a of arg.args) {
      try {
        global.declare(a.name, a.default?.text, { escape: cf.escape });
      } catch (error) {
        if (error instanceof ExpansionError) {
          throw new BuildfileError(cf.file, a.default?.position ?? arg.node.position, error.message);
        }
        throw error;
      }
    }
  }
  const bases: StageBase[] = [];
  const dependencies: StageDependency[][] = [];
  for (const stage of cf.stages) {
    const from = stage.from;
    const image = expandOrFail(cf.file, from.image, global, cf.escape);
    if (image === '') {
      throw new BuildfileError(cf.file, from.image.position, `base name (${from.image.text}) should not be blank`);
    }
    const platform = from.platform === undefined ? undefined : expandOrFail(cf.file, from.platform, global, cf.escape);
    if (platform === '') {
      throw new BuildfileError(
        cf.file,
        (from.platform as Text).position,
        `empty platform value from expression ${(from.platform as Text).text}`,
      );
    }
    const deps: StageDependency[] = [];
    // FROM names an earlier stage only; a later stage's name is an image name (BuildKit).
    const earlier = cf.stages.find((s) => s.index < stage.index && s.name === image.toLowerCase());
    if (image.toLowerCase() === 'scratch') bases.push({ kind: 'scratch' });
    else if (earlier !== undefined) {
      bases.push({ kind: 'stage', index: earlier.index });
      deps.push({ kind: 'stage', index: earlier.index, via: 'FROM', position: from.image.position });
    } else bases.push({ kind: 'image', reference: image, platform });
    // ONBUILD triggers run in the stages built FROM this image, not here.
    for (const instruction of stage.instructions) {
      if (instruction.kind === 'COPY' && instruction.from !== undefined) {
        const value = expandOrFail(cf.file, instruction.from, global, cf.escape);
        deps.push(stageRef(cf, stage, value, 'COPY --from', instruction.from.position));
      }
      if (instruction.kind === 'RUN') {
        for (const mount of instruction.mounts) {
          if (mount.from === undefined) continue;
          const value = expandOrFail(cf.file, mount.from, global, cf.escape);
          deps.push(stageRef(cf, stage, value, 'RUN --mount', mount.from.position));
        }
      }
    }
    dependencies.push(deps);
  }

  let target = cf.stages.length - 1;
  if (options.target !== undefined) {
    const wanted = options.target.toLowerCase();
    const found =
      cf.stages.find((s) => s.name === wanted) ?? (/^\d+$/.test(wanted) ? cf.stages[Number(wanted)] : undefined);
    if (found === undefined) {
      throw new UnknownTargetError(
        options.target,
        cf.stages.flatMap((s) => (s.name === undefined ? [] : [s.name])),
      );
    }
    target = found.index;
  }

  const neededSet = new Set<number>();
  const visit = (index: number) => {
    if (neededSet.has(index)) return;
    neededSet.add(index);
    const stage = cf.stages[index] as Stage;
    for (const dep of dependencies[index] ?? []) {
      if (dep.kind !== 'stage') continue;
      if (dep.index > index) {
        throw new BuildfileError(
          cf.file,
          dep.position,
          `cannot copy from stage ${JSON.stringify(dep.ref ?? String(dep.index))}, it needs to be defined before current stage ${JSON.stringify(stage.name ?? `stage-${index}`)}`,
        );
      }
      visit(dep.index);
    }
  };
  visit(target);
  const needed = [...neededSet].sort((a, b) => a - b);

  // Dependencies always point to earlier stages, so one pass in order gives each stage its wave.
  const wave = new Map<number, number>();
  for (const index of needed) {
    let w = 0;
    for (const dep of dependencies[index] ?? []) {
      if (dep.kind === 'stage') w = Math.max(w, (wave.get(dep.index) as number) + 1);
    }
    wave.set(index, w);
  }
  const waves: number[][] = [];
  for (const index of needed) {
    const w = wave.get(index) as number;
    (waves[w] ??= []).push(index);
  }
  return { bases, dependencies, target, needed, waves };
}

/** A --target that names no stage: a flag error, not tied to a line of the file. */
export class UnknownTargetError extends HutchError {
  constructor(
    readonly target: string,
    readonly stageNames: string[],
  ) {
    super(`target stage ${JSON.stringify(target)} could not be found`, {
      hint: stageNames.length === 0 ? 'no stage has a name (FROM … AS name)' : `stages: ${stageNames.join(', ')}`,
    });
    this.name = 'UnknownTargetError';
  }
}
