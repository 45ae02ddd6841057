import { describe, expect, it } from 'vitest';
import { parseGoDuration } from '../../src/build/containerfile/values.js';

describe('values', () => {
  it('Go durations', () => {
    const fail = (r: string): never => {
      throw new Error(r);
    };
    expect(parseGoDuration('1h2m3.5s', fail)).toBe(3723.5e9);
    expect(parseGoDuration('0', fail)).toBe(0);
    expect(parseGoDuration('1µs', fail)).toBe(1000);
    expect(() => parseGoDuration('1d', fail)).toThrow('unknown unit "d"');
  });
});
