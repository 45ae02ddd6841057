import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BuildOutput } from '../../src/build/output.js';

/**
 * A terminal as far as the live view uses one: text, newlines, `ESC[nF`
 * (to the start of the line n lines up) and `ESC[J` (erase to the end).
 * Both streams write to the same screen, as stdout and stderr of a shell do.
 */
class Screen {
  lines: string[] = [''];
  row = 0;

  write(text: string): void {
    for (let i = 0; i < text.length; i++) {
      const c = text[i] as string;
      if (c === '\x1b') {
        const m = /^.\[(\d*)([A-Za-z])/.exec(text.slice(i));
        if (m === null) throw new Error(`unknown escape at ${JSON.stringify(text.slice(i, i + 8))}`);
        const n = m[1] === '' ? 1 : Number(m[1]);
        if (m[2] === 'F') this.row = Math.max(this.row - n, 0);
        else if (m[2] === 'J') this.lines.length = this.row + 1;
        else throw new Error(`unexpected escape ${m[0]}`);
        this.lines[this.row] = '';
        i += m[0].length - 1;
      } else if (c === '\n') {
        this.row++;
        this.lines[this.row] ??= '';
      } else {
        this.lines[this.row] += c;
      }
    }
  }

  /** The lines above the cursor (the cursor's line is empty after a newline). */
  shown(): string[] {
    return this.lines.slice(0, this.row);
  }
}

function terminal(screen: Screen, columns = 80): Writable & { columns: number } {
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      screen.write(chunk.toString());
      callback();
    },
  }) as Writable & { columns: number };
  stream.columns = columns;
  return stream;
}

describe('BuildOutput on a terminal', () => {
  let clock = 0;
  beforeEach(() => {
    vi.useFakeTimers();
    clock = 0;
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const tick = (ms: number) => {
    clock += ms;
    vi.advanceTimersByTime(ms);
  };

  it('shows the running step with its elapsed time below what scrolls, and erases it when the step ends', async () => {
    const screen = new Screen();
    const output = new BuildOutput(terminal(screen), terminal(screen), 'tty', () => clock);
    output.step(undefined, 1, 2, 'RUN make');
    tick(1200);
    expect(screen.shown()).toEqual(['STEP 1/2: RUN make', expect.stringMatching(/^\S STEP 1\/2: RUN make {2}1\.2s$/)]);

    // RUN output lands above the view; a partial line waits for its newline.
    const stdout = output.runStdout;
    await new Promise<void>((resolve) => stdout.write('compiling', () => resolve()));
    expect(screen.shown()).toHaveLength(2);
    await new Promise<void>((resolve) => stdout.write(' a.c\nlinking\n', () => resolve()));
    tick(800);
    expect(screen.shown()).toEqual([
      'STEP 1/2: RUN make',
      'compiling a.c',
      'linking',
      expect.stringMatching(/^\S STEP 1\/2: RUN make {2}2\.0s$/),
    ]);

    output.done(undefined, 'abcdef123456');
    expect(screen.shown()).toEqual(['STEP 1/2: RUN make', 'compiling a.c', 'linking', '--> abcdef123456 (2.0s)']);
    // A step that ends without a line (the image's last) leaves no view behind.
    output.step(undefined, 2, 2, 'LABEL a=b');
    tick(100);
    expect(screen.shown().at(-1)).toMatch(/^\S STEP 2\/2: LABEL a=b {2}0\.1s$/);
    output.done(undefined);
    expect(screen.shown()).toEqual([
      'STEP 1/2: RUN make',
      'compiling a.c',
      'linking',
      '--> abcdef123456 (2.0s)',
      'STEP 2/2: LABEL a=b',
    ]);
    output.warn('something');
    output.close();
    expect(screen.shown()).toEqual([
      'STEP 1/2: RUN make',
      'compiling a.c',
      'linking',
      '--> abcdef123456 (2.0s)',
      'STEP 2/2: LABEL a=b',
      'WARN: something',
    ]);
  });

  it('keeps one line per running stage, cut to the terminal width', () => {
    const screen = new Screen();
    const output = new BuildOutput(terminal(screen, 40), terminal(screen, 40), 'tty', () => clock);
    output.step('builder', 2, 3, 'RUN a very long command that does not fit in forty columns');
    output.step('final', 1, 4, 'COPY . /app');
    tick(300);
    const view = screen.shown().slice(2);
    expect(view).toHaveLength(2);
    expect(view[0]).toMatch(/^\S \[builder\] STEP 2\/3: RUN a very… {2}0\.3s$/);
    expect(view[0]?.length).toBeLessThanOrEqual(39);
    expect(view[1]).toMatch(/^\S \[final\] STEP 1\/4: COPY \. \/app {2}0\.3s$/);
    output.done('builder', 'Using cache 1234');
    expect(screen.shown().slice(-2)).toEqual(['--> Using cache 1234 (0.3s)', expect.stringMatching(/\[final\]/)]);
    output.close();
    expect(screen.shown().at(-1)).toBe('--> Using cache 1234 (0.3s)');
  });

  it('prints plain lines without escapes or times when not on a terminal', () => {
    let text = '';
    const sink = new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        text += chunk.toString();
        callback();
      },
    });
    const output = new BuildOutput(sink, sink, 'plain', () => clock);
    output.step(undefined, 1, 1, 'RUN true');
    tick(500);
    output.done(undefined, 'abc');
    output.close();
    expect(text).toBe('STEP 1/1: RUN true\n--> abc\n');
  });

  it("ends a step with buildah's lines: none after FROM, the cache line then the id, none for the last", () => {
    let text = '';
    const sink = new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        text += chunk.toString();
        callback();
      },
    });
    const output = new BuildOutput(sink, sink, 'plain', () => clock);
    output.step('1/2', 1, 3, 'FROM busybox AS b');
    output.done('1/2');
    output.step('1/2', 2, 3, 'RUN true');
    output.done('1/2', 'Using cache 0123456789abcdef', '0123456789a');
    output.step('1/2', 3, 3, 'LABEL a=b');
    output.done('1/2');
    output.close();
    expect(text).toBe(
      '[1/2] STEP 1/3: FROM busybox AS b\n[1/2] STEP 2/3: RUN true\n--> Using cache 0123456789abcdef\n--> 0123456789a\n[1/2] STEP 3/3: LABEL a=b\n',
    );
  });
});
