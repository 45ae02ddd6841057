/** The pure parts of src/run/container/lifecycle.ts: signals as kill -s, --stop-signal and STOPSIGNAL take them. */
import { describe, expect, it } from 'vitest';
import { parseSignal, signalName } from '../../src/run/container/lifecycle.js';

function refusal(text: string): string {
  try {
    parseSignal(text);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`${JSON.stringify(text)} was accepted`);
}

describe('parseSignal', () => {
  it('takes names with or without SIG, any case, numbers, and a leading dash', () => {
    expect(['TERM', 'SIGTERM', 'sigterm', '-TERM', '15', '-15'].map(parseSignal)).toEqual([15, 15, 15, 15, 15, 15]);
    expect(['HUP', '-1', 'FPE', '-SIGUSR1', 'SIGUSR2', 'CLD', 'IOT'].map(parseSignal)).toEqual([
      1, 1, 8, 10, 12, 17, 6,
    ]);
    expect(['RTMIN', 'RTMIN+2', 'SIGRTMAX-1', 'RTMAX', '64'].map(parseSignal)).toEqual([34, 36, 63, 64, 64]);
  });

  it('refuses as podman does: invalid signal (without the dash), or out of 1 to 64', () => {
    for (const bad of ['0', 'SIGBADSIG', 'SIG', 'BADSIG', '%%', '!', "''", ' '])
      expect(refusal(bad)).toBe(`invalid signal: ${bad}`);
    for (const bad of ['-0', '-SIGBADSIG', '-SIG', '-BADSIG', '-'])
      expect(refusal(bad)).toBe(`invalid signal: ${bad.slice(1)}`);
    for (const bad of ['65', '-65', '96', '999', '99999999'])
      expect(refusal(bad)).toBe('valid signals are 1 through 64');
  });

  it('names signals as podman’s messages do', () => {
    expect([15, 9, 34, 36, 99].map(signalName)).toEqual(['SIGTERM', 'SIGKILL', 'SIGRTMIN', 'SIGRTMIN+2', '99']);
  });
});
