/**
 * The Containerfile front half (src/build/containerfile: lexer, parser,
 * instructions, expansion, stage plan) under generated and mutated
 * Containerfiles: it may only end in a BuildfileError (or an ExpansionError),
 * never crash or hang. Budget and replay: test/fuzz/harness.ts.
 */
import { describe, expect, it } from 'vitest';
import { fuzz, fuzzBudget, summary, testTimeout } from './harness.js';

const budget = fuzzBudget(2000);

describe('fuzzing the Containerfile parser', () => {
  it(
    'ends every input in a plan or a BuildfileError naming file:line:column',
    async () => {
      const report = await fuzz('containerfile', budget);
      console.log(summary(report));
      expect(report.failure).toBeUndefined();
      expect(report.numRuns).toBeGreaterThan(0);
    },
    testTimeout(budget),
  );
});
