import { describe, expect, it } from 'vitest';
import {
  goBool,
  LAYERS,
  layersOf,
  PULL,
  pullPolicyOf,
  pullValue,
  splitList,
  takeBack,
} from '../../src/cli/build-flags.js';

describe("podman build's flags", () => {
  it("--layers, --pull and --tls-verify take their value only after =, as pflag's do", () => {
    const argv = ['node', 'hutch', 'build'];
    expect(takeBack(LAYERS, undefined, argv)).toEqual({ value: undefined, positional: undefined });
    expect(takeBack(LAYERS, true, argv)).toEqual({ value: true, positional: undefined });
    expect(takeBack(LAYERS, 'false', argv)).toEqual({ value: false, positional: undefined });
    expect(takeBack(LAYERS, '0', argv)).toEqual({ value: false, positional: undefined });
    // `build --layers ctx`: the word is the context, the flag stood alone.
    expect(takeBack(LAYERS, 'ctx', argv)).toEqual({ value: true, positional: 'ctx' });
    expect(takeBack(PULL, '.', argv)).toEqual({ value: 'always', positional: '.' });
    expect(takeBack(PULL, 'never', argv)).toEqual({ value: 'never', positional: undefined });
    // `--layers=maybe` is the flag's value, and a bad one.
    expect(() => takeBack(LAYERS, 'maybe', [...argv, '--layers=maybe'])).toThrow(
      'invalid argument "maybe" for "--layers" flag',
    );
    expect(() => takeBack(PULL, 'sometimes', [...argv, '--pull=sometimes'])).toThrow(
      'invalid argument "sometimes" for "--pull" flag',
    );
  });

  it("Go's ParseBool words", () => {
    expect(['1', 't', 'T', 'TRUE', 'true', 'True'].map(goBool)).toEqual(Array(6).fill(true));
    expect(['0', 'f', 'F', 'FALSE', 'false', 'False'].map(goBool)).toEqual(Array(6).fill(false));
    expect(goBool('yes')).toBeUndefined();
  });

  it('the pull policy: --pull (true, always), never, false/missing/newer; one of the three flags', () => {
    expect(['true', 'always', ' Always '].map(pullValue)).toEqual(['always', 'always', 'always']);
    expect(['false', 'missing', 'newer'].map(pullValue)).toEqual(['missing', 'missing', 'missing']);
    expect(pullValue('never')).toBe('never');
    expect(pullValue('sometimes')).toBeUndefined();
    const none = { pull: undefined, pullAlways: false, pullNever: false };
    expect(pullPolicyOf(none)).toBe('missing');
    expect(pullPolicyOf({ ...none, pullNever: true })).toBe('never');
    expect(pullPolicyOf({ ...none, pullAlways: true })).toBe('always');
    expect(pullPolicyOf({ ...none, pull: 'never' })).toBe('never');
    expect(() => pullPolicyOf({ ...none, pull: 'always', pullNever: true })).toThrow(
      "can only set one of 'pull' or 'pull-always' or 'pull-never'",
    );
  });

  it('layers: the flag, else BUILDAH_LAYERS, else on; never with --squash or --squash-all', () => {
    const plain = { squash: false, squashAll: false };
    expect(layersOf(undefined, plain, {})).toBe(true);
    expect(layersOf(undefined, plain, { BUILDAH_LAYERS: 'false' })).toBe(false);
    expect(layersOf(undefined, plain, { BUILDAH_LAYERS: '0' })).toBe(false);
    expect(layersOf(undefined, plain, { BUILDAH_LAYERS: 'FALSE' })).toBe(false);
    expect(layersOf(undefined, plain, { BUILDAH_LAYERS: 'no' })).toBe(true);
    expect(layersOf(true, plain, { BUILDAH_LAYERS: 'false' })).toBe(true);
    expect(layersOf(false, plain, { BUILDAH_LAYERS: '1' })).toBe(false);
    expect(layersOf(undefined, { squash: true, squashAll: false }, {})).toBe(false);
    expect(layersOf(false, { squash: true, squashAll: false }, {})).toBe(false);
    expect(layersOf(true, { squash: false, squashAll: true }, {})).toBe(false);
    expect(() => layersOf(true, { squash: true, squashAll: false }, {})).toThrow(
      'cannot specify --squash with --layers and --squash-all with --squash',
    );
    expect(() => layersOf(undefined, { squash: true, squashAll: true }, {})).toThrow(/--squash-all with --squash/);
  });

  it('list flags take commas too', () => {
    expect(splitList(['net_raw,sys_admin', 'chown', ''])).toEqual(['net_raw', 'sys_admin', 'chown']);
  });
});
