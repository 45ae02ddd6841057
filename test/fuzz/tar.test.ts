/**
 * The layer tar reader (src/image/layer/tar-reader.ts, unpacking through
 * src/image/layer/extract.ts) under generated and damaged tars, fed in chunks
 * of every size, each unpacked into a directory of its own: it may only end in
 * its own refusals (MalformedLayerError, UnsafeLayerError: HutchError) or a
 * system call the kernel refused (a name too long, chown to an id an
 * unprivileged user may not give), never crash, hang, or write next to its
 * target. Budget and replay: test/fuzz/harness.ts.
 */
import { describe, expect, it } from 'vitest';
import { requires } from '../helpers/requires.js';
import { fuzz, fuzzBudget, summary, testTimeout } from './harness.js';

// The extractor reads its id maps and sets xattrs through the addon.
const need = requires('built');
const budget = fuzzBudget(1000);

describe.skipIf(need.skip)('fuzzing the layer tar reader', () => {
  it(
    'ends every tar unpacked or refused with a clean error, and nothing outside the target',
    async () => {
      const report = await fuzz('tar', budget);
      console.log(summary(report));
      expect(report.failure).toBeUndefined();
      expect(report.numRuns).toBeGreaterThan(0);
    },
    testTimeout(budget),
  );
});
