// Differential test for what virsh 9.0 cannot do embedded (it crashes):
// ephemeral secrets and undefine, and the private-value refusal, compared with
// the shared libvirt 9.0 daemon (peers/libvirt.sh). Every run uses fresh
// UUIDs and usage ids, and undefines what it defined, since the daemon is shared.
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openSecretDriver } from "../../../src/index.js";
import type { SecretDriver } from "../../../src/index.js";
import { daemonURI, expectSame, ours, virsh } from "./harness.js";

const FIX = fileURLToPath(new URL("../../../../shared/fixtures/libvirt/secret/secretxml2xmlin/", import.meta.url));

describe("virsh differential: ephemeral, undefine, private (libvirt 9.0 daemon vs virsecret)", function () {
  this.timeout(120000);
  let work: string;
  let dUri: string;
  let oUri: string;
  let drv: SecretDriver;
  const defined: string[] = [];
  // The fixture with a fresh uuid and usage id, so the shared daemon never clashes.
  const variant = (fixture: string, uuid: string): string => {
    const xml = readFileSync(join(FIX, fixture), "utf8")
      .replace(/<uuid>[^<]*<\/uuid>/, `<uuid>${uuid}</uuid>`)
      .replace(/(<(?:volume|name|target)>)([^<]*)(<\/)/, `$1$2-${uuid}$3`);
    const p = join(work, `${uuid}.xml`);
    writeFileSync(p, xml);
    return p;
  };
  /** ours runs on one open driver: ephemeral secrets live as long as it does. */
  const both = async (args: string[], opts: { quiet?: boolean } = {}): Promise<void> => {
    const v = virsh(dUri, args, opts);
    const o = await ours(oUri, args, { ...opts, driver: drv });
    expectSame(v, o, args.join(" "));
  };

  before(async () => {
    dUri = daemonURI();
    work = mkdtempSync(join(tmpdir(), "virsecret-daemon-diff-"));
    oUri = `secret:///embed?root=${join(work, "ours")}`;
    drv = await openSecretDriver({ uri: oUri });
    writeFileSync(join(work, "v64"), "aGVsbG8=\n");
  });
  after(async () => {
    for (const u of defined) virsh(dUri, ["secret-undefine", u]);
    await drv?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("ephemeral private secret: define, dumpxml, set-value, get-value refused, undefine as typed, undefine again", async () => {
    const u = randomUUID();
    defined.push(u);
    const xml = variant("ephemeral-usage-volume.xml", u);
    await both(["secret-define", xml]);
    await both(["secret-dumpxml", u]);
    await both(["secret-set-value", u, "--file", join(work, "v64")]);
    await both(["secret-get-value", u]);
    const typed = u.replace(/-/g, "").toUpperCase();
    await both(["secret-undefine", typed]);
    await both(["secret-undefine", typed]);
    await both(["secret-get-value", u]);
  });

  it("ephemeral public secret: value round trip, then undefine", async () => {
    const u = randomUUID();
    defined.push(u);
    const p = join(work, `${u}.xml`);
    writeFileSync(
      p,
      `<secret ephemeral='yes' private='no'>\n  <uuid>${u}</uuid>\n  <usage type='ceph'>\n    <name>diff ${u}</name>\n  </usage>\n</secret>\n`,
    );
    await both(["secret-define", p]);
    await both(["secret-set-value", u, "--file", join(work, "v64")]);
    await both(["secret-get-value", u]);
    await both(["secret-get-value", u, "--plain"], { quiet: true });
    await both(["secret-undefine", u], { quiet: true });
    await both(["secret-dumpxml", u]);
  });

  it("persistent private secret (usage-vtpm): private refusal as the daemon words it, then undefine", async () => {
    const u = randomUUID();
    defined.push(u);
    await both(["secret-define", variant("usage-vtpm.xml", u)]);
    await both(["secret-set-value", u, "--file", join(work, "v64")]);
    await both(["secret-get-value", u]);
    await both(["secret-get-value", u, "--plain"]);
    await both(["secret-undefine", u]);
  });

  it("redefine rules: private flag cannot be dropped; usage id cannot change", async () => {
    const u = randomUUID();
    defined.push(u);
    const priv = variant("usage-ceph.xml", u);
    await both(["secret-define", priv]);
    const pub = join(work, `${u}-pub.xml`);
    writeFileSync(pub, readFileSync(priv, "utf8").replace("private='yes'", "private='no'"));
    await both(["secret-define", pub]);
    const other = join(work, `${u}-other.xml`);
    writeFileSync(other, readFileSync(priv, "utf8").replace(/<name>[^<]*<\/name>/, `<name>other-${u}</name>`));
    await both(["secret-define", other]);
    await both(["secret-undefine", u]);
  });
});
