/** Which of names, --all, --latest, --cidfile and --filter go together (src/verbs/targets.ts), in podman's words. */
import { describe, expect, it } from 'vitest';
import { checkTargetFlags, type TargetOptions } from '../../src/verbs/targets.js';

function refusal(options: TargetOptions): string | undefined {
  try {
    checkTargetFlags(options);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

describe('checkTargetFlags', () => {
  it('takes names, or one of --all, --latest, --cidfile, --filter', () => {
    expect(refusal({ names: ['a', 'b'] })).toBeUndefined();
    expect(refusal({ names: [], all: true })).toBeUndefined();
    expect(refusal({ names: [], latest: true })).toBeUndefined();
    expect(refusal({ names: [], cidfiles: ['f'] })).toBeUndefined();
    expect(refusal({ names: [], filters: ['name=x'], all: true })).toBeUndefined();
  });

  it('refuses the combinations podman refuses', () => {
    expect(refusal({ names: [] })).toBe('you must provide at least one name or id');
    expect(refusal({ names: ['a'], all: true })).toBe('no arguments are needed with --all');
    expect(refusal({ names: [], all: true, latest: true })).toBe('--all and --latest cannot be used together');
    expect(refusal({ names: ['a'], latest: true })).toBe('--latest and containers cannot be used together');
    expect(refusal({ names: ['a'], cidfiles: ['f'] })).toBe('no arguments are needed with --latest or --cidfile');
    expect(refusal({ names: [], cidfiles: ['f'], all: true })).toBe(
      '--all, --latest, and --cidfile cannot be used together',
    );
    expect(refusal({ names: ['a'], filters: ['name=x'] })).toBe('--filter takes no arguments');
  });
});
