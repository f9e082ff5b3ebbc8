/** Plain-text tables for the terminal. */

export function table(header: string[], rows: string[][], maxWidth: number[] = []): string {
  const cut = (s: string, i: number) => {
    const one = s.replace(/\s+/g, ' ');
    const w = maxWidth[i];
    return w !== undefined && one.length > w ? one.slice(0, w - 1) + '…' : one;
  };
  const cells = [header, ...rows].map((r) => r.map(cut));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n') + '\n';
}
