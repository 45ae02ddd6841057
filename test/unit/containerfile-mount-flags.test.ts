import { describe, expect, it } from 'vitest';
import { loadContainerfile } from '../../src/build/containerfile/instruction-parser.js';
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

describe('RUN --mount', () => {
  it('RUN --mount: types, keys, read-only defaults', () => {
    const run = only(
      'RUN --mount=type=cache,target=/root/.cache,sharing=locked --mount=type=secret,id=tok --network=none ["sh", "-c", "true"]',
    );
    expect(run.kind).toBe('RUN');
    if (run.kind !== 'RUN') return;
    expect(run.mounts.map((m) => [m.type, m.target?.text, m.sharing, m.readonly, m.id?.text])).toEqual([
      ['cache', '/root/.cache', 'locked', false, undefined],
      ['secret', undefined, undefined, true, 'tok'],
    ]);
    expect(error('FROM a\nRUN --mount=type=nfs,target=/x true\n')).toMatch(
      /^Containerfile:2:13: unsupported mount type "nfs"/,
    );
    expect(error('FROM a\nRUN --mount=type=bind,size=1 true\n')).toMatch(/unexpected key 'size' for mount type 'bind'/);
  });
});
