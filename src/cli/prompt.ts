// podman's y/N question before it removes things (image prune, system prune,
// system reset): the question on stdout, one line read from stdin, whether
// a terminal or not.
import { HutchError } from '../errors.js';

/**
 * Asks, then reads one line: true when it starts with y or Y. Like podman's
 * bufio ReadString('\n'), stdin ending before a newline is an error (`EOF`).
 */
export async function askYesNo(question: string): Promise<boolean> {
  process.stdout.write(question);
  const line = await readLine(process.stdin);
  if (line === undefined) throw new HutchError('EOF', { hint: 'answer y or n, or give --force' });
  return /^y/i.test(line);
}

/** One line of a stream, newline included; undefined when the stream ends first. */
function readLine(stream: NodeJS.ReadStream): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let text = '';
    const finish = (value: string | undefined) => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      // Nothing else reads stdin: let the process end.
      stream.pause();
      stream.destroy();
      resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      text += chunk.toString();
      const newline = text.indexOf('\n');
      if (newline >= 0) finish(text.slice(0, newline + 1));
    };
    const onEnd = () => finish(undefined);
    const onError = (error: Error) => reject(error);
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
  });
}
