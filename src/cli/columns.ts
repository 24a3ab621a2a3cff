import { plainText } from './terminal-text.ts';

/**
 * Lays out rows as aligned plain-text columns, two spaces apart: the status and dead-letter tables.
 * Pure: no I/O. `rows` includes the header row; columns whose header is in `rightAligned` are padded on
 * the left (numbers).
 */
export function columns(
  headers: readonly string[],
  rows: readonly string[][],
  rightAligned: ReadonlySet<string>,
): string[] {
  // Cells hold what workers and the server said: no control sequence reaches the terminal.
  rows = rows.map((row) => row.map((cell) => plainText(cell).replace(/[\t\n]/g, ' ')));
  const widths = headers.map((_, col) => Math.max(...rows.map((row) => (row[col] ?? '').length)));
  return rows.map((row) =>
    row
      .map((cell, col) => {
        const width = widths[col] ?? 0;
        return rightAligned.has(headers[col] ?? '') ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd(),
  );
}
