/**
 * What a build prints, as buildah does: `STEP n/m: INSTRUCTION` per step
 * (`[i/k] STEP n/m:` when the file has several stages), `--> Using cache KEY`
 * for a cached step, `--> ID` after a step, RUN output as it comes. --quiet
 * prints nothing but the final image id. What each step ends with (nothing
 * after FROM, nor after the last step of the image) is the caller's choice.
 *
 * On a terminal the same lines scroll by, with each step's time when it
 * ends, and below them a live view: one line per running step with a spinner
 * and its elapsed time, redrawn ten times a second. Everything that scrolls
 * (RUN output, pull progress, warnings) goes through here so that it lands
 * above that view: the view is erased, whole lines are written, the view is
 * drawn again. A RUN's partial line waits for its newline (or the step's
 * end), so the view never splits one.
 */
import { Writable } from 'node:stream';

export type OutputMode = 'tty' | 'plain' | 'quiet';

interface Running {
  label: string;
  started: number;
}

interface Partial {
  target: Writable;
  text: string;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const PARTIAL_LIMIT = 64 * 1024;

export class BuildOutput {
  private readonly started = new Map<string, number>();
  /** Running steps by stage (the live view), in the order they started. */
  private readonly running = new Map<string, Running>();
  private drawn = 0;
  private frame = 0;
  private timer: NodeJS.Timeout | undefined;
  /** RUN output not yet ended by a newline, per stream handed out. */
  private readonly partials = new Set<Partial>();
  private closed = false;

  constructor(
    private readonly out: Writable & { columns?: number },
    private readonly err: Writable,
    private readonly mode: OutputMode,
    private readonly now: () => number = Date.now,
  ) {}

  get live(): boolean {
    return this.mode === 'tty';
  }

  private line(text: string): void {
    if (this.mode !== 'quiet') this.print(this.out, `${text}\n`);
  }

  /** Writes whole lines above the live view. */
  private print(stream: Writable, text: string): void {
    if (!this.live) {
      stream.write(text);
      return;
    }
    this.erase();
    stream.write(text);
    this.draw();
  }

  step(stage: string | undefined, n: number, m: number, text: string): void {
    const prefix = stage === undefined ? '' : `[${stage}] `;
    const now = this.now();
    this.started.set(stage ?? '', now);
    if (this.live) {
      const first = text.split('\n')[0] ?? '';
      this.running.set(stage ?? '', { label: `${prefix}STEP ${n}/${m}: ${first}`, started: now });
      this.startTicking();
    }
    this.line(`${prefix}STEP ${n}/${m}: ${text}`);
  }

  /**
   * The step of this stage is done: a `--> what` line for each of whats (the
   * last with the step's time on a terminal), or none.
   */
  done(stage: string | undefined, ...whats: string[]): void {
    const since = this.started.get(stage ?? '');
    const time = this.live && since !== undefined ? ` (${seconds(this.now() - since)})` : '';
    this.flushPartials();
    this.running.delete(stage ?? '');
    whats.forEach((what, i) => this.line(`--> ${what}${i === whats.length - 1 ? time : ''}`));
    if (whats.length === 0 && this.live) {
      this.erase();
      this.draw();
    }
    if (this.running.size === 0) this.stopTicking();
  }

  note(text: string): void {
    this.line(text);
  }

  warn(text: string): void {
    if (this.mode !== 'quiet') this.print(this.err, `WARN: ${text}\n`);
  }

  /** Ends the live view (erased; what scrolled stays): before the final id is printed, and when a build fails. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.flushPartials();
    this.stopTicking();
    this.erase();
    this.running.clear();
  }

  /** Where a RUN's stdout and stderr go: nowhere with --quiet, through the live view on a terminal. */
  get runStdout(): Writable {
    return this.stream(this.out);
  }

  get runStderr(): Writable {
    return this.stream(this.err);
  }

  /** Lines of other progress (a base image's pull) that must scroll above the live view. */
  get progressStream(): Writable {
    return this.stream(this.err);
  }

  private stream(target: Writable): Writable {
    if (this.mode === 'quiet') return discard();
    if (!this.live) return target;
    // Each RUN's streams hold their own partial line: parallel stages do not splice theirs together.
    const pending = { target, text: '' };
    this.partials.add(pending);
    return new Writable({
      write: (chunk: Buffer | string, _encoding, callback) => {
        this.passLines(pending, chunk.toString());
        callback();
      },
      final: (callback) => {
        this.flushPartial(pending);
        this.partials.delete(pending);
        callback();
      },
    });
  }

  private passLines(pending: Partial, text: string): void {
    pending.text += text;
    const end = pending.text.lastIndexOf('\n');
    if (end < 0 && pending.text.length < PARTIAL_LIMIT) return;
    const whole = end < 0 ? `${pending.text}\n` : pending.text.slice(0, end + 1);
    pending.text = end < 0 ? '' : pending.text.slice(end + 1);
    this.print(pending.target, whole);
  }

  private flushPartial(pending: Partial): void {
    if (pending.text !== '') this.print(pending.target, `${pending.text}\n`);
    pending.text = '';
  }

  private flushPartials(): void {
    for (const pending of this.partials) this.flushPartial(pending);
  }

  private startTicking(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setInterval(() => {
      this.frame++;
      this.erase();
      this.draw();
    }, 100);
    this.timer.unref();
  }

  private stopTicking(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Moves to the first line of the live view and erases it and everything below. */
  private erase(): void {
    if (this.drawn === 0) return;
    this.out.write(`\x1b[${this.drawn}F\x1b[J`);
    this.drawn = 0;
  }

  private draw(): void {
    if (this.closed || this.running.size === 0) return;
    // A pseudo-terminal nobody sized (script(1), some CI runners) says 0 columns.
    const columns = this.out.columns !== undefined && this.out.columns > 0 ? this.out.columns : 80;
    const width = Math.max(columns - 1, 20);
    const now = this.now();
    let text = '';
    for (const { label, started } of this.running.values()) {
      const time = seconds(now - started);
      const room = width - time.length - 4;
      const shown = label.length > room ? `${label.slice(0, Math.max(room - 1, 0))}…` : label;
      text += `${SPINNER[this.frame % SPINNER.length]} ${shown}  ${time}\n`;
    }
    this.out.write(text);
    this.drawn = this.running.size;
  }
}

function seconds(ms: number): string {
  return `${(Math.max(ms, 0) / 1000).toFixed(1)}s`;
}

function discard(): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}
