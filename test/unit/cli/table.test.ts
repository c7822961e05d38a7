// vsh-table layout; expected bytes captured from virsh 9.0 `secret-list` (C.UTF-8).
import { expect } from "chai";
import { formatTable, safeEncode } from "../../../src/cli/table.js";

const H = ["UUID", "Usage"];

describe("cli/table: vsh-table bytes", () => {
  it("empty list: header, 15 dashes", () => {
    expect(formatTable(H, [])).to.equal(" UUID   Usage\n---------------\n");
  });

  it("empty list with -q prints nothing", () => {
    expect(formatTable(null, [])).to.equal("");
  });

  it("one row: 3 spaces between a 36-char uuid and the usage, dashes = 39 + usage + 3", () => {
    const s = formatTable(H, [["f52a81b2-424e-490c-823d-6bd4235bc572", "ceph CephCephCephCeph"]]);
    expect(s).to.equal(
      " UUID                                   Usage\n" +
        "-".repeat(63) +
        "\n" +
        " f52a81b2-424e-490c-823d-6bd4235bc572   ceph CephCephCephCeph\n",
    );
  });

  it("-q: no header or dashes; last column never padded", () => {
    const s = formatTable(null, [
      ["a", "x"],
      ["bbb", "yy"],
    ]);
    expect(s).to.equal(" a     x\n bbb   yy\n");
  });

  it("width comes from the header when it is the widest", () => {
    expect(formatTable(["UUID", "Usage"], [["u", "v"]])).to.equal(" UUID   Usage\n---------------\n u      v\n");
  });

  it("escapes control characters and a literal \\x as \\xNN, 4 wide (virsh capture)", () => {
    const rows = [
      ["0aaaaaaa-1111-1111-1111-111111111111", "Unused"],
      ["11111111-1111-1111-1111-111111111111", "ceph a\tb"],
      ["21111111-1111-1111-1111-111111111111", "ceph c\\\\xd"],
      ["31111111-1111-1111-1111-111111111111", "volume /漢字/x"],
      ["41111111-1111-1111-1111-111111111111", "iscsi line\ntwo"],
      ["51111111-1111-1111-1111-111111111111", "tls é"],
      ["aaaaaaaa-1111-1111-1111-111111111111", "vtpm v"],
    ];
    expect(formatTable(H, rows)).to.equal(
      " UUID                                   Usage\n" +
        "-".repeat(59) +
        "\n" +
        " 0aaaaaaa-1111-1111-1111-111111111111   Unused\n" +
        " 11111111-1111-1111-1111-111111111111   ceph a\\x09b\n" +
        " 21111111-1111-1111-1111-111111111111   ceph c\\\\x5cxd\n" +
        " 31111111-1111-1111-1111-111111111111   volume /漢字/x\n" +
        " 41111111-1111-1111-1111-111111111111   iscsi line\\x0atwo\n" +
        " 51111111-1111-1111-1111-111111111111   tls é\n" +
        " aaaaaaaa-1111-1111-1111-111111111111   vtpm v\n",
    );
  });

  it("counts East Asian wide characters as 2 columns (virsh capture: 72 dashes)", () => {
    const s = formatTable(H, [
      ["31111111-1111-1111-1111-111111111111", "volume /漢字漢字漢字漢字漢字/x"],
      ["41111111-1111-1111-1111-111111111111", "volume /é/x"],
    ]);
    expect(s.split("\n")[1]).to.equal("-".repeat(72));
    expect(s.split("\n")[3]).to.equal(" 41111111-1111-1111-1111-111111111111   volume /é/x");
  });

  it("safeEncode: widths of plain, escaped, combining and C1 characters", () => {
    expect(safeEncode("abc")).to.deep.equal({ text: "abc", width: 3 });
    expect(safeEncode("\x7f")).to.deep.equal({ text: "\\x7f", width: 4 });
    expect(safeEncode("\\y")).to.deep.equal({ text: "\\y", width: 2 });
    expect(safeEncode("e\u0301")).to.deep.equal({ text: "e\u0301", width: 1 });
    // C1 control U+0085 is not printable: each UTF-8 byte escaped
    expect(safeEncode("\u0085")).to.deep.equal({ text: "\\xc2\\x85", width: 8 });
  });
});
