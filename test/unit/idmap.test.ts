import { describe, expect, it } from 'vitest';
import { HutchError } from '../../src/errors.js';
import type { Identity } from '../../src/host/identity.js';
import { formatIdMap, helperArgs, inspectHelper, planIdMappings } from '../../src/host/idmap.js';

const alice: Identity = { uid: 1000, gid: 1000, name: 'alice', root: false, session: undefined };

describe('id mappings', () => {
  it('maps the user to 0 and the subordinate ranges after it', () => {
    const plan = planIdMappings(alice, {
      subuid: 'alice:100000:65536\nalice:300000:10\n',
      subgid: 'alice:200000:65536\n',
    });
    expect(plan.uidMode).toBe('full');
    expect(plan.uid).toEqual([
      { inside: 0, outside: 1000, count: 1 },
      { inside: 1, outside: 100000, count: 65536 },
      { inside: 65537, outside: 300000, count: 10 },
    ]);
    expect(plan.gid[1]).toEqual({ inside: 1, outside: 200000, count: 65536 });
    expect(plan.warnings).toEqual([]);
    expect(helperArgs(plan.uid)).toEqual(['0', '1000', '1', '1', '100000', '65536', '65537', '300000', '10']);
    expect(formatIdMap(plan.uid.slice(0, 1))).toBe('0 1000 1\n');
  });

  it('falls back to a single id with one warning that names the fix', () => {
    const plan = planIdMappings(alice, { subuid: null, subgid: 'bob:1:2\n' });
    expect(plan.uidMode).toBe('single');
    expect(plan.gidMode).toBe('single');
    expect(plan.uid).toEqual([{ inside: 0, outside: 1000, count: 1 }]);
    expect(plan.warnings).toHaveLength(1);
    expect(plan.warnings[0]).toMatch(/no subordinate uids or gids for alice/);
    expect(plan.warnings[0]).toMatch(/usermod --add-subuids/);
  });

  it('refuses a range that overlaps another user, naming both lines', () => {
    const files = { subuid: 'bob:150000:65536\nalice:100000:65536\n', subgid: 'alice:100000:65536\n' };
    expect(() => planIdMappings(alice, files)).toThrow(HutchError);
    try {
      planIdMappings(alice, files);
    } catch (error) {
      expect((error as HutchError).message).toBe(
        "subordinate uid range 100000-165535 of alice (/etc/subuid line 2) overlaps bob's range 150000-215535 (line 1)",
      );
      expect((error as HutchError).hint).toMatch(/usermod --del-subuids 100000-165535/);
      expect((error as HutchError).exitCode).toBe(125);
    }
  });

  it('says which helper is missing and which package has it', () => {
    const helper = inspectHelper('newuidmap', '/nonexistent');
    expect(helper.usable).toBe(false);
    expect(helper.problem).toMatch(/newuidmap not found on PATH/);
    expect(helper.fix).toMatch(/uidmap/);
  });
});
