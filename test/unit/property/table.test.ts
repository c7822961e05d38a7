// Property tests for the vsh-table formatter (src/cli/table.ts): every row
// line puts its cells at the header's column starts (in display columns),
// each column is as wide as its widest cell, and the dash line spans them.
import { expect } from "chai";
import fc from "fast-check";
import { formatTable, safeEncode } from "../../../src/cli/table.js";

// Cells with wide (CJK, emoji), zero-width, control and escape-like characters.
const cellChar = fc.oneof(
  fc.constantFrom("a", " ", "漢", "字", "😀", "\u0301", "\u200b", "\t", "\n", "\x7f", "\\", "x", "é", "\u2028"),
  fc.string({ maxLength: 1, unit: "binary" }),
);
const cell = fc.array(cellChar, { maxLength: 8 }).map((c) => c.join(""));

const table = fc.integer({ min: 1, max: 4 }).chain((n) =>
  fc.record({
    header: fc.array(cell, { minLength: n, maxLength: n }),
    rows: fc.array(fc.array(cell, { minLength: n, maxLength: n }), { maxLength: 5 }),
  }),
);

/**
 * Check one output line against the expected column starts (display
 * columns, 1-based): each cell is one space then its escaped text starting at
 * its column, separated from the next by at least two padding spaces, and
 * nothing after the last cell.
 */
function checkLine(line: string, cells: readonly string[], starts: readonly number[]): void {
  let pos = 0;
  let col = 0;
  cells.forEach((c, i) => {
    const enc = safeEncode(c);
    if (i > 0) {
      const pad = starts[i]! - 1 - col;
      expect(pad, `padding before column ${i}`).to.be.at.least(2);
      expect(line.slice(pos, pos + pad)).to.equal(" ".repeat(pad));
      pos += pad;
      col += pad;
    }
    expect(line[pos]).to.equal(" ");
    pos += 1;
    col += 1;
    expect(col, `start of column ${i}`).to.equal(starts[i]);
    expect(line.slice(pos, pos + enc.text.length)).to.equal(enc.text);
    pos += enc.text.length;
    col += enc.width;
  });
  expect(pos).to.equal(line.length);
}

describe("property: vsh-table formatter", () => {
  it("rows share the header's column starts; widths are the max display widths", () => {
    fc.assert(
      fc.property(table, ({ header, rows }) => {
        const out = formatTable(header, rows);
        expect(out.endsWith("\n")).to.equal(true);
        const lines = out.slice(0, -1).split("\n");
        expect(lines).to.have.length(rows.length + 2);
        const widths = header.map((_, i) => Math.max(...[header, ...rows].map((r) => safeEncode(r[i]!).width)));
        // expected starts: 1 + sum of (width + 3) of the columns before
        const expected = widths.map((_, i) => 1 + widths.slice(0, i).reduce((a, w) => a + w + 3, 0));
        checkLine(lines[0]!, header, expected);
        expect(lines[1]).to.equal("-".repeat(widths.reduce((a, w) => a + w + 3, 0)));
        rows.forEach((r, k) => checkLine(lines[k + 2]!, r, expected));
      }),
      { numRuns: 300 },
    );
  });

  it("without a header (-q): rows only, widths from the rows", () => {
    fc.assert(
      fc.property(table, ({ rows }) => {
        const out = formatTable(null, rows);
        if (rows.length === 0) {
          expect(out).to.equal("");
          return;
        }
        const lines = out.slice(0, -1).split("\n");
        expect(lines).to.have.length(rows.length);
        const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => safeEncode(r[i]!).width)));
        const expected = widths.map((_, i) => 1 + widths.slice(0, i).reduce((a, w) => a + w + 3, 0));
        rows.forEach((r, k) => checkLine(lines[k]!, r, expected));
      }),
      { numRuns: 200 },
    );
  });

  it("escaped text holds no control or line-break character", () => {
    fc.assert(
      fc.property(cell, (c) => {
        // eslint-disable-next-line no-control-regex
        expect(safeEncode(c).text).to.not.match(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
      }),
      { numRuns: 300 },
    );
  });
});
