/** Tar header numbers, with no dependency: the fuzz worker's bundle imports this without tar-stream. */

/** Writes a numeric header field: octal with a NUL, or GNU base-256 (0x80, then big-endian) when asked. */
export function writeTarNumber(block: Buffer, value: number, at: number, length: number, base256: boolean): void {
  if (base256) {
    block[at] = 0x80;
    let rest = value;
    for (let i = at + length - 1; i > at; i--) {
      block[i] = rest % 256;
      rest = Math.floor(rest / 256);
    }
    return;
  }
  block.write(`${value.toString(8).padStart(length - 1, '0')}\0`, at, length, 'latin1');
}
