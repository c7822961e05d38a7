// Every command virsecret has beyond virsh's secret-* group, and every vol-*
// command (virsh's, over a directory instead of a libvirt pool), is named by
// an entry of the deviations list, so the README and the differential tests
// cannot silently miss one.
import { expect } from "chai";
import { DEVIATIONS, deviation } from "../../../src/cli/deviations.js";
import { KEY_COMMANDS } from "../../../src/cli/key-commands.js";
import { MASTER_KEY_COMMANDS } from "../../../src/cli/master-key-commands.js";
import { STORE_COMMANDS } from "../../../src/cli/secret-commands.js";
import { VOL_COMMANDS } from "../../../src/cli/vol-commands.js";

const named = (cmd: string): string[] =>
  DEVIATIONS.filter((d) => new RegExp(`(^|[ ,;(])${cmd.replace(/-/g, "\\-")}([ ,;)]|$)`).test(d.command)).map((d) => d.id);

describe("cli: deviations cover the commands virsh does not have (or has differently)", () => {
  for (const c of [...VOL_COMMANDS, ...KEY_COMMANDS, ...MASTER_KEY_COMMANDS, ...STORE_COMMANDS]) {
    it(`${c.name} is named by a deviation`, () => {
      expect(named(c.name), c.name).to.not.deep.equal([]);
    });
  }

  it("the vol-* entries say what differs: pool directory, generated secrets, owned deletes, key check, modes, lookups", () => {
    expect(deviation("vol-pool-directory").virsecret).to.include("--pool DIR");
    expect(deviation("vol-generated-secret").virsh).to.include("A single <secret type='passphrase'...> element is expected in encryption description");
    expect(deviation("vol-delete-owned").virsecret).to.include("a secret the user named in the XML is left alone");
    expect(deviation("vol-key-check").virsh).to.equal("`error: unknown command: 'vol-key-check'`");
    expect(deviation("vol-permissions").virsecret).to.include("default 0600");
    expect(deviation("vol-lookup-errors").virsecret).to.include("no storage vol with matching name 'VOL'");
    expect(deviation("export-bound-secrets").virsecret).to.include("value not exported");
    expect(deviation("master-key-commands").command).to.include("wrap-master-key");
  });
});
