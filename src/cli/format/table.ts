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
