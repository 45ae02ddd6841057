/**
 * The fuzz harness itself: a planted crash is reported with its shrunk input
 * and a seed that replays it, a planted endless loop with the input it was
 * given last. Without this, a harness that reports nothing would look like a
 * parser that never fails.
 */
import { describe, expect, it } from 'vitest';
import { fuzz, type FuzzBudget } from './harness.js';

describe('the fuzz harness', () => {
  const budget: FuzzBudget = { runs: 1000, seconds: 2, perRunMs: 200, seed: 42 };

  it('reports a TypeError with the smallest input that makes it, and the seed that replays it', async () => {
    const report = await fuzz('planted-crash', budget);
    expect(report.failure).toMatch(/^TypeError: Cannot read properties of undefined/);
    expect(report.failure).toMatch(/replay: HUTCH_FUZZ_SEED=42 /);
    // Shrunk to the boundary of the planted bug.
    expect(report.failure).toMatch(/\ninput:\n501$/);
    // Refusals the target accepts are counted, not reported.
    expect(report.outcomes.map(([kind]) => kind)).toContain('ok');
  });

  it('reports an endless loop, which only terminating the worker can stop, with its input', async () => {
    const started = Date.now();
    const report = await fuzz('planted-hang', { ...budget, seconds: 0.5, perRunMs: 100 });
    expect(report.failure).toMatch(
      /^no answer after \d+ ms: the parser hangs; the input it was given last:\n(50[1-9]|5[1-9]\d|[6-9]\d\d|1000)$/,
    );
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
