/**
 * The parsers of what a registry or an archive sends (src/image/manifest.ts:
 * manifests, indexes, configs) and what pull does with a parsed document first
 * (the platform choice, the layer media types), under generated and damaged
 * JSON: they may only end in a HutchError, never crash or hang. Budget and
 * replay: test/fuzz/harness.ts.
 */
import { describe, expect, it } from 'vitest';
import { fuzz, fuzzBudget, summary, testTimeout } from './harness.js';

const budget = fuzzBudget(3000);

describe('fuzzing the manifest, index and config parsers', () => {
  for (const target of ['manifest', 'config']) {
    it(
      `${target}: ends every document parsed or refused with a HutchError`,
      async () => {
        const report = await fuzz(target, budget);
        console.log(summary(report));
        expect(report.failure).toBeUndefined();
        expect(report.numRuns).toBeGreaterThan(0);
      },
      testTimeout(budget),
    );
  }
});
