/**
 * What a build prints, as buildah does: `STEP n/m: INSTRUCTION` per step
 * (`[stage] STEP n/m:` when there are several stages), `--> Using cache KEY`
 * for a cached step, `--> ID` after a layer, RUN output as it comes. On a
 * terminal each step's time is added when it ends. --quiet prints nothing
 * but the final image id.
 */
import { Writable } from 'node:stream';

export class BuildOutput {
  private readonly started = new Map<string, number>();

  constructor(
    private readonly out: Writable,
    private readonly err: Writable,
    private readonly mode: 'tty' | 'plain' | 'quiet',
  ) {}

  private line(text: string): void {
    if (this.mode !== 'quiet') this.out.write(`${text}\n`);
  }

  step(stage: string | undefined, n: number, m: number, text: string): void {
    const prefix = stage === undefined ? '' : `[${stage}] `;
    this.started.set(stage ?? '', Date.now());
    this.line(`${prefix}STEP ${n}/${m}: ${text}`);
  }

  /** The step of this stage is done: `--> what` (with its time on a terminal). */
  done(stage: string | undefined, what: string): void {
    const since = this.started.get(stage ?? '');
    const time = this.mode === 'tty' && since !== undefined ? ` (${((Date.now() - since) / 1000).toFixed(1)}s)` : '';
    this.line(`--> ${what}${time}`);
  }

  note(text: string): void {
    this.line(text);
  }

  warn(text: string): void {
    if (this.mode !== 'quiet') this.err.write(`WARN: ${text}\n`);
  }

  /** Where a RUN's stdout and stderr go: nowhere with --quiet. */
  get runStdout(): Writable {
    return this.mode === 'quiet' ? discard() : this.out;
  }

  get runStderr(): Writable {
    return this.mode === 'quiet' ? discard() : this.err;
  }
}

function discard(): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}
