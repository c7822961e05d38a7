// vsh-table: the column layout virsh uses for `secret-list`, byte for byte
// (as in a UTF-8 locale): each cell is " " + text, non-last cells padded to
// the column width + 2, a dash line of sum(width + 3) under the header.

const HEX_ESCAPE_WIDTH = 4;

function hexByte(b: number): string {
  return "\\x" + b.toString(16).padStart(2, "0");
}

// East Asian Wide / Fullwidth ranges (what glibc's wcwidth() gives 2 for).
const WIDE: ReadonlyArray<readonly [number, number]> = [
  [0x1100, 0x115f],
  [0x231a, 0x231b],
  [0x2329, 0x232a],
  [0x23e9, 0x23ec],
  [0x23f0, 0x23f0],
  [0x23f3, 0x23f3],
  [0x25fd, 0x25fe],
  [0x2614, 0x2615],
  [0x2648, 0x2653],
  [0x267f, 0x267f],
  [0x2693, 0x2693],
  [0x26a1, 0x26a1],
  [0x26aa, 0x26ab],
  [0x26bd, 0x26be],
  [0x26c4, 0x26c5],
  [0x26ce, 0x26ce],
  [0x26d4, 0x26d4],
  [0x26ea, 0x26ea],
  [0x26f2, 0x26f3],
  [0x26f5, 0x26f5],
  [0x26fa, 0x26fa],
  [0x26fd, 0x26fd],
  [0x2705, 0x2705],
  [0x270a, 0x270b],
  [0x2728, 0x2728],
  [0x274c, 0x274c],
  [0x274e, 0x274e],
  [0x2753, 0x2755],
  [0x2757, 0x2757],
  [0x2795, 0x2797],
  [0x27b0, 0x27b0],
  [0x27bf, 0x27bf],
  [0x2b1b, 0x2b1c],
  [0x2b50, 0x2b50],
  [0x2b55, 0x2b55],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xa960, 0xa97f],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe6f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x16fe0, 0x16fe4],
  [0x17000, 0x18cff],
  [0x1b000, 0x1b2ff],
  [0x1f004, 0x1f004],
  [0x1f0cf, 0x1f0cf],
  [0x1f18e, 0x1f18e],
  [0x1f191, 0x1f19a],
  [0x1f200, 0x1f251],
  [0x1f300, 0x1f64f],
  [0x1f680, 0x1f6ff],
  [0x1f7e0, 0x1f7eb],
  [0x1f90c, 0x1f9ff],
  [0x1fa70, 0x1faff],
  [0x20000, 0x2fffd],
  [0x30000, 0x3fffd],
];

function isWide(cp: number): boolean {
  for (const [lo, hi] of WIDE) {
    if (cp < lo) return false;
    if (cp <= hi) return true;
  }
  return false;
}

const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}]$/u;
const NOT_PRINTABLE = /^[\p{Cc}\p{Cs}\p{Cn}\p{Zl}\p{Zp}]$/u;

/** wcwidth() of one printable code point. */
function charWidth(ch: string, cp: number): number {
  if (cp === 0x200b || ZERO_WIDTH.test(ch)) return 0;
  return isWide(cp) ? 2 : 1;
}

/**
 * vshTableSafeEncode: control and other non-printable characters become
 * `\xNN` per UTF-8 byte, a literal backslash followed by `x` becomes `\x5c`,
 * everything else is kept. Returns the text and its display width.
 */
export function safeEncode(text: string): { text: string; width: number } {
  let out = "";
  let width = 0;
  const chars = Array.from(text);
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    const cp = ch.codePointAt(0)!;
    if (ch === "\\" && chars[i + 1] === "x") {
      out += hexByte(0x5c);
      width += HEX_ESCAPE_WIDTH;
    } else if (NOT_PRINTABLE.test(ch)) {
      for (const b of Buffer.from(ch, "utf8")) {
        out += hexByte(b);
        width += HEX_ESCAPE_WIDTH;
      }
    } else {
      out += ch;
      width += charWidth(ch, cp);
    }
  }
  return { text: out, width };
}

/**
 * Render a table as vshTablePrint does. With `header` null (virsh -q) there is
 * neither header nor dash line, and widths come from the rows alone.
 */
export function formatTable(header: readonly string[] | null, rows: readonly (readonly string[])[]): string {
  const all = header ? [header, ...rows] : [...rows];
  const enc = all.map((r) => r.map(safeEncode));
  const ncols = header ? header.length : (rows[0]?.length ?? 0);
  const widths = new Array<number>(ncols).fill(0);
  for (const r of enc) r.forEach((c, i) => (widths[i] = Math.max(widths[i]!, c.width)));
  const line = (r: { text: string; width: number }[]): string =>
    r.map((c, i) => " " + c.text + (i < r.length - 1 ? " ".repeat(widths[i]! - c.width + 2) : "")).join("") + "\n";
  let s = "";
  enc.forEach((r, idx) => {
    s += line(r);
    if (header && idx === 0) s += "-".repeat(widths.reduce((a, w) => a + w + 3, 0)) + "\n";
  });
  return s;
}
