// Go's text/tabwriter, through which crictl and kubectl print their tables: cells end with a tab; a
// column's width is that of its widest cell (in runes) in a run of consecutive lines that have that
// column, plus padding, and at least the minimum width; the last cell of a line is written as it is.

export interface TabwriterOptions {
  minWidth: number;
  padding: number;
}

/** crictl's tables (`tabwriter.NewWriter(w, 20, 1, 3, ' ', 0)`). */
export const CRICTL_TABLE: TabwriterOptions = { minWidth: 20, padding: 3 };
/** kubectl's tables (printers.GetNewTabWriter: minwidth 6, padding 3). */
export const KUBECTL_TABLE: TabwriterOptions = { minWidth: 6, padding: 3 };
/** kubectl describe's sections (minwidth 0, padding 2). */
export const KUBECTL_DESCRIBE: TabwriterOptions = { minWidth: 0, padding: 2 };

function runeLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function padEnd(cell: string, width: number): string {
  return cell + ' '.repeat(Math.max(0, width - runeLength(cell)));
}

export function tabwrite(text: string, options: TabwriterOptions): string {
  const lines = text.split('\n').map((line) => line.split('\t'));
  // A trailing newline ends the last line; it is not an extra line.
  const hadNewline = text.endsWith('\n');
  if (hadNewline) lines.pop();
  const out: string[] = [];
  const widths: number[] = [];

  const writeLines = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const cells = lines[i]!;
      let line = '';
      for (const [j, cell] of cells.entries()) {
        const last = j === cells.length - 1;
        line += !last && j < widths.length ? padEnd(cell, widths[j]!) : cell;
      }
      out.push(line);
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    let start = line0;
    for (let i = line0; i < line1; i++) {
      if (column >= lines[i]!.length - 1) continue;
      writeLines(start, i);
      start = i;
      let width = options.minWidth;
      let end = i;
      for (; end < line1; end++) {
        const cells = lines[end]!;
        if (column >= cells.length - 1) break;
        width = Math.max(width, runeLength(cells[column]!) + options.padding);
      }
      widths.push(width);
      format(start, end);
      widths.pop();
      start = end;
      i = end - 1;
    }
    writeLines(start, line1);
  };

  format(0, lines.length);
  return out.join('\n') + (hadNewline ? '\n' : '');
}

/** Rows of cells, each row a line, through the tabwriter. */
export function tabTable(rows: string[][], options: TabwriterOptions = CRICTL_TABLE): string {
  return tabwrite(rows.map((cells) => `${cells.join('\t')}\n`).join(''), options);
}
