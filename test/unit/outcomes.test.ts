/**
 * The verbs over several names (src/verbs/outcomes.ts) and how src/cli prints
 * them (src/cli/output.ts): each name as it is done, every failure reported,
 * the command failing with the first (stop, rm, …) or the last (restart,
 * volume rm), as podman does.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { printOutcomes } from '../../src/cli/output.js';
import { eachName, type Outcome } from '../../src/verbs/outcomes.js';

async function collect<T>(outcomes: AsyncIterable<Outcome<T>>): Promise<Outcome<T>[]> {
  const all: Outcome<T>[] = [];
  for await (const outcome of outcomes) all.push(outcome);
  return all;
}

const task = async (name: string): Promise<number> => {
  if (name.startsWith('bad')) throw new Error(`no such container ${name}`);
  return name.length;
};

describe('eachName', () => {
  it('goes on after a failure and yields every name in order', async () => {
    const error = (name: string) => ({ name, error: new Error(`no such container ${name}`) });
    expect(await collect(eachName(['a', 'bad1', 'ccc', 'bad2'], task))).toEqual([
      { name: 'a', value: 1 },
      error('bad1'),
      { name: 'ccc', value: 3 },
      error('bad2'),
    ]);
  });

  it('runs each task only when its outcome is asked for', async () => {
    const started: string[] = [];
    const outcomes = eachName(['a', 'b'], async (name) => {
      started.push(name);
    });
    expect(started).toEqual([]);
    await outcomes.next();
    expect(started).toEqual(['a']);
  });
});

describe('printOutcomes', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  function capture() {
    const out: string[] = [];
    const err: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out.push(String(chunk));
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      err.push(String(chunk));
      return true;
    });
    return { out, err };
  }

  const names = ['a', 'bad1', 'ccc', 'bad2', 'bad3'];
  const line = (name: string) => `${name}\n`;

  it('fails with the first failure, the later ones on stderr', async () => {
    const { out, err } = capture();
    await expect(printOutcomes(eachName(names, task), line, 'first')).rejects.toThrow('no such container bad1');
    expect(out.join('')).toBe('a\nccc\n');
    expect(err.join('')).toBe('Error: no such container bad2\nError: no such container bad3\n');
  });

  it('fails with the last failure, the earlier ones on stderr', async () => {
    const { out, err } = capture();
    await expect(printOutcomes(eachName(names, task), line, 'last')).rejects.toThrow('no such container bad3');
    expect(out.join('')).toBe('a\nccc\n');
    expect(err.join('')).toBe('Error: no such container bad1\nError: no such container bad2\n');
  });

  it('prints what the line gives for each value, nothing for undefined', async () => {
    const { out, err } = capture();
    await printOutcomes(eachName(['a', 'bb'], task), (name, n) => (n > 1 ? `${name} ${n}\n` : undefined), 'first');
    expect(out.join('')).toBe('bb 2\n');
    expect(err).toEqual([]);
  });
});
