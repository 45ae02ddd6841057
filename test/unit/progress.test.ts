import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress, formatBytes, progressMode } from '../../src/image/progress.js';

const digest = `sha256:${'ab'.repeat(32)}` as const;

function capture() {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  return { out, text: () => text };
}

describe('progress', () => {
  it('chooses the live view only on a terminal, never in CI or with --quiet', () => {
    expect(progressMode({ isTTY: true }, false, {})).toBe('tty');
    expect(progressMode({ isTTY: true }, false, { CI: 'true' })).toBe('plain');
    expect(progressMode({ isTTY: false }, false, {})).toBe('plain');
    expect(progressMode({ isTTY: true }, true, {})).toBe('quiet');
  });

  it('prints one line per blob when not on a terminal', () => {
    const { out, text } = capture();
    const progress = createProgress('plain', out);
    const blob = progress.blob(digest, 100);
    blob.advance(100);
    blob.finish('done');
    progress.blob(digest, 5).finish('exists');
    progress.note('Writing manifest to image destination');
    progress.close();
    expect(text()).toBe(
      `Copying blob ${digest} done\nCopying blob ${digest} skipped: already exists\nWriting manifest to image destination\n`,
    );
  });

  it('redraws a line per blob with bytes and rate on a terminal', () => {
    const { out, text } = capture();
    const progress = createProgress('tty', out);
    const blob = progress.blob(digest, 10 * 1024 * 1024);
    blob.advance(3 * 1024 * 1024);
    blob.finish('done');
    progress.close();
    const escape = String.fromCharCode(27);
    expect(text()).toContain(`${escape}[2KCopying blob abababababab done 3.0MiB / 10.0MiB `);
    expect(text()).toMatch(/B\/s\n$/);
    expect(text()).toContain(`${escape}[1F`);
  });

  it('writes nothing when quiet', () => {
    const { out, text } = capture();
    const progress = createProgress('quiet', out);
    progress.blob(digest, 1).finish('done');
    progress.note('x');
    progress.close();
    expect(text()).toBe('');
  });

  it('formats sizes in binary units', () => {
    expect(formatBytes(512)).toBe('512B');
    expect(formatBytes(1536)).toBe('1.5KiB');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5.0GiB');
  });
});
