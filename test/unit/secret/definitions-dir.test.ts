// `secret-define DIR`: idempotent application of a directory of definitions.
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "chai";
import { defineFromDirectory, type DefinitionEntry } from "../../../src/secret/definitions-dir.js";
import { Roots, U1, U2, dec, secretXML } from "./helpers.js";

const summary = (r: DefinitionEntry[]) => r.map((e) => `${e.file}:${e.result}`);

describe("secret/definitions-dir", function () {
  const roots = new Roots();
  afterEach(() => roots.cleanup());

  it("creates, then reports unchanged, then applies only what changed", async () => {
    const drv = await roots.open();
    const dir = await roots.dir();
    await writeFile(join(dir, "a.xml"), secretXML({ uuid: U1, private: true, usage: ["ceph", "client.a"] }));
    await writeFile(join(dir, `${U1}.value`), Buffer.from([1, 2, 0, 3]));
    await writeFile(join(dir, "b.xml"), secretXML({ usage: ["volume", "/pool/b.img"] }));
    await writeFile(join(dir, "b.base64"), Buffer.from("bee").toString("base64") + "\n");
    await writeFile(join(dir, "c.xml"), secretXML({ uuid: U2, description: "no value" }));
    await writeFile(join(dir, "notes.txt"), "ignored");

    const first = await defineFromDirectory(drv, dir);
    expect(summary(first)).to.deep.equal(["a.xml:created", "b.xml:created", "c.xml:created"]);
    expect(first[0]!.valueFile).to.equal(`${U1}.value`);
    expect(first[1]!.valueFile).to.equal("b.base64");
    expect([...(await drv.elevated().getValue(U1))]).to.deep.equal([1, 2, 0, 3]);
    const bUUID = first[1]!.uuid!;
    expect(drv.lookupByUsage("volume", "/pool/b.img").uuid).to.equal(bUUID);
    expect(dec(await drv.lookupByUUID(bUUID).getValue())).to.equal("bee");

    const events: string[] = [];
    drv.eventRegisterAny(null, 0, (ev) => events.push(`life:${ev.secret.uuid}`));
    drv.eventRegisterAny(null, 1, (ev) => events.push(`value:${ev.secret.uuid}`));
    const second = await defineFromDirectory(drv, dir);
    expect(summary(second)).to.deep.equal(["a.xml:unchanged", "b.xml:unchanged", "c.xml:unchanged"]);
    expect(second[1]!.uuid).to.equal(bUUID); // matched through its usage, not a new secret
    expect(events).to.deep.equal([]);
    expect(drv.numOfSecrets()).to.equal(3);

    await writeFile(join(dir, `${U1}.value`), Buffer.from([9]));
    await writeFile(join(dir, "c.xml"), secretXML({ uuid: U2, description: "changed" }));
    const third = await defineFromDirectory(drv, dir);
    expect(summary(third)).to.deep.equal(["a.xml:value-set", "b.xml:unchanged", "c.xml:updated"]);
    expect([...(await drv.elevated().getValue(U1))]).to.deep.equal([9]);
    expect(drv.lookupByUUID(U2).getXMLDesc()).to.include("<description>changed</description>");
    expect(events).to.deep.equal([`value:${U1}`, `life:${U2}`]);
  });

  it("reports bad files as errors and carries on", async () => {
    const drv = await roots.open();
    const dir = await roots.dir();
    await writeFile(join(dir, "1-nouuid-nousage.xml"), "<secret/>");
    await writeFile(join(dir, "2-malformed.xml"), "<secret>");
    await writeFile(join(dir, "3-garbage.xml"), secretXML({ uuid: U1 }));
    await writeFile(join(dir, "3-garbage.base64"), "***");
    await writeFile(join(dir, "4-both.xml"), secretXML({ uuid: U2 }));
    await writeFile(join(dir, "4-both.value"), "x");
    await writeFile(join(dir, "4-both.base64"), "eA==");
    await writeFile(join(dir, "5-empty.xml"), secretXML({ uuid: "55555555-6666-7777-8888-999999999999" }));
    await writeFile(join(dir, "5-empty.value"), "");
    await writeFile(join(dir, "6-ok.xml"), secretXML({ uuid: "66666666-7777-8888-9999-aaaaaaaaaaaa" }));
    const r = await defineFromDirectory(drv, dir);
    expect(summary(r)).to.deep.equal([
      "1-nouuid-nousage.xml:error",
      "2-malformed.xml:error",
      "3-garbage.xml:error",
      "4-both.xml:error",
      "5-empty.xml:error",
      "6-ok.xml:created",
    ]);
    expect(r[0]!.error!.message).to.equal("invalid argument: '1-nouuid-nousage.xml' has neither <uuid> nor <usage>, so it cannot be applied idempotently");
    expect(r[1]!.error!.message).to.match(/2-malformed\.xml:1: /);
    expect(r[2]!.error!.message).to.equal(`invalid argument: invalid base64 in '${join(dir, "3-garbage.base64")}'`);
    expect(r[3]!.error!.message).to.equal("invalid argument: both '4-both.value' and '4-both.base64' exist; keep only one");
    expect(r[4]!.error!.message).to.equal("invalid argument: secret value must not be empty");
    expect(drv.listSecrets(10)).to.deep.equal(["66666666-7777-8888-9999-aaaaaaaaaaaa"]);
  });

  it("validate checks each file against the schema", async () => {
    const drv = await roots.open();
    const dir = await roots.dir();
    await writeFile(join(dir, "x.xml"), `<secret><uuid>${U1}</uuid><bogus/></secret>`);
    const strict = await defineFromDirectory(drv, dir, { validate: true });
    expect(strict[0]!.result).to.equal("error");
    expect(strict[0]!.error!.message).to.include("Element secret has extra content: bogus");
    expect(drv.numOfSecrets()).to.equal(0);
    const lax = await defineFromDirectory(drv, dir);
    expect(lax[0]!.result).to.equal("created");
    await rm(join(dir, "x.xml"));
    expect(await defineFromDirectory(drv, dir)).to.deep.equal([]);
  });
});
