// The tolerance chart of `vpnlab sweep`: one row per variant, one column per
// swept value, each cell coloured by its verdict, and each row's tolerance
// ("survives up to 2%, fails from 5%") beside it. Pure: a string of SVG.

export type CellVerdict = "survives" | "degraded" | "fails" | "mixed" | "lab-error";

export interface ChartRow {
  variant: string;
  cells: { verdict: CellVerdict; label: string }[];
  tolerance: string;
}

export interface SweepChart {
  title: string;
  /** What the columns are, e.g. "loss on wan.edge". */
  axis: string;
  values: string[]; // column labels, e.g. "0%", "5%"
  rows: ChartRow[];
}

export const VERDICT_COLOURS: Record<CellVerdict, string> = {
  survives: "#2e7d32",
  degraded: "#f9a825",
  fails: "#c62828",
  mixed: "#8e24aa",
  "lab-error": "#757575",
};

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const CELL_W = 64;
const CELL_H = 26;
const TOP = 70;
const CHAR_W = 7; // 12px sans-serif, roughly: enough to size the columns of names

export function renderSweepChart(c: SweepChart): string {
  const left = 20 + CHAR_W * Math.max(8, ...c.rows.map((r) => r.variant.length));
  const gridW = CELL_W * c.values.length;
  const tolW = 30 + CHAR_W * Math.max(10, ...c.rows.map((r) => r.tolerance.length));
  const width = Math.max(left + gridW + tolW, 480);
  const legendY = TOP + CELL_H * c.rows.length + 30;
  const height = legendY + 30;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  parts.push(`<text x="10" y="22" font-size="15" font-weight="bold">${esc(c.title)}</text>`);
  parts.push(`<text x="${left + gridW / 2}" y="${TOP - 28}" text-anchor="middle" fill="#333">${esc(c.axis)}</text>`);
  c.values.forEach((v, i) => parts.push(`<text x="${left + CELL_W * i + CELL_W / 2}" y="${TOP - 8}" text-anchor="middle">${esc(v)}</text>`));
  parts.push(`<text x="${left + gridW + 12}" y="${TOP - 8}" fill="#333">tolerance</text>`);
  c.rows.forEach((r, j) => {
    const y = TOP + CELL_H * j;
    parts.push(`<text x="${left - 8}" y="${y + CELL_H / 2 + 4}" text-anchor="end">${esc(r.variant)}</text>`);
    r.cells.forEach((cell, i) => {
      const x = left + CELL_W * i;
      parts.push(
        `<g class="cell" data-variant="${esc(r.variant)}" data-value="${esc(c.values[i])}" data-verdict="${cell.verdict}">` +
          `<title>${esc(`${r.variant} at ${c.values[i]}: ${cell.label}`)}</title>` +
          `<rect x="${x + 1}" y="${y + 1}" width="${CELL_W - 2}" height="${CELL_H - 2}" fill="${VERDICT_COLOURS[cell.verdict]}"/>` +
          `<text x="${x + CELL_W / 2}" y="${y + CELL_H / 2 + 4}" text-anchor="middle" fill="#fff" font-size="10">${esc(cell.label)}</text></g>`,
      );
    });
    parts.push(`<text x="${left + gridW + 12}" y="${y + CELL_H / 2 + 4}" fill="#333">${esc(r.tolerance)}</text>`);
  });
  let x = 10;
  for (const [v, colour] of Object.entries(VERDICT_COLOURS)) {
    parts.push(`<rect x="${x}" y="${legendY}" width="12" height="12" fill="${colour}"/><text x="${x + 16}" y="${legendY + 10}">${v}</text>`);
    x += 30 + CHAR_W * v.length;
  }
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
