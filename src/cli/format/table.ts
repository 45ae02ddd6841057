// Tables as podman lays them out with Go's text/tabwriter.
/**
 * Columns as Go's text/tabwriter lays out podman's tables (minwidth 12,
 * padding 2): every cell but the last of a row is padded to its column's width.
 */
export function tabulate(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      if (i < row.length - 1) widths[i] = Math.max(widths[i] ?? 12, cell.length + 2);
    });
  }
  return rows
    .map((row) => `${row.map((cell, i) => (i < row.length - 1 ? cell.padEnd(widths[i] ?? 12) : cell)).join('')}\n`)
    .join('');
}

/**
 * Text through Go's text/tabwriter as podman's reports set it up (minwidth 12, padding 2, spaces):
 * a tab ends a cell; the cells of a column, over the consecutive lines that have that column, are
 * padded to the widest plus two; the text after a line's last tab is not aligned.
 */
export function alignTabs(text: string, minwidth = 12, padding = 2): string {
  const rows = text.split('\n');
  // A line is its cells; the text after the final newline is a last line without one.
  const lines = rows.map((row, i) => (i === rows.length - 1 && row === '' ? [] : row.split(/[\t\v]/)));
  const width = (cell: string): number => [...cell].length;
  const out: string[] = [];
  const widths: number[] = [];

  const writeLines = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const cells = lines[i] as string[];
      cells.forEach((cell, j) => {
        out.push(cell);
        if (j < widths.length) out.push(' '.repeat(Math.max(0, (widths[j] as number) - width(cell))));
      });
      if (i + 1 < lines.length) out.push('\n');
    }
  };

  // Go's format(): a column block is the run of lines that have a cell in the current column.
  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    let start = line0;
    for (let i = line0; i < line1; i++) {
      if (column >= (lines[i] as string[]).length - 1) continue;
      writeLines(start, i);
      start = i;
      let w = minwidth;
      for (; i < line1; i++) {
        const cells = lines[i] as string[];
        if (column >= cells.length - 1) break;
        w = Math.max(w, width(cells[column] as string) + padding);
      }
      widths.push(w);
      format(start, i);
      widths.pop();
      start = i;
      i--;
    }
    writeLines(start, line1);
  };

  format(0, lines.length);
  return out.join('');
}
