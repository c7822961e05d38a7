// The secret driver against spec §2 (every error row of §2.2–§2.6, code and
// text), the Q1/Q2/Q3 fixes, events, the access hook, persistence on real
// LevelDB, and rollback when the store write fails.
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "chai";
import { DefineFlags, ListAllFlags, SecretEventID, SecretLifecycleEvent, type AccessCheck, type LifecycleEvent, type SecretRef } from "../../../src/secret/api.js";
import { SECRET_SPACE, SECRET_USAGE_SPACE, secretListOf, type SecretDriver } from "../../../src/secret/driver.js";
import { VirError } from "../../../src/errors.js";
import { SecretStore } from "../../../src/store/db.js";
import type { SecretDef } from "../../../src/secret/def.js";
import { Roots, U1, U2, U3, dec, enc, expectVirError, secretXML } from "./helpers.js";
import { expectReject } from "../../helpers/reject.js";

describe("secret/driver", function () {
  const roots = new Roots();
  let drv: SecretDriver;
  beforeEach(async () => {
    drv = await roots.open();
  });
  afterEach(() => roots.cleanup());

  describe("defineXML (§2.2)", () => {
    it("defines and returns a handle with uuid, usage type and id", async () => {
      const h = await drv.defineXML(secretXML({ uuid: U1.toUpperCase(), usage: ["ceph", "client.admin"] }));
      expect(h.uuid).to.equal(U1);
      expect(h.usageType).to.equal("ceph");
      expect(h.usageID).to.equal("client.admin");
      expect(h.getXMLDesc()).to.equal(
        `<secret ephemeral='no' private='no'>\n  <uuid>${U1}</uuid>\n  <usage type='ceph'>\n    <name>client.admin</name>\n  </usage>\n</secret>\n`,
      );
    });

    it("read-only connection → operation forbidden", async () => {
      const ro = await roots.open(undefined, { readOnly: true });
      await expectVirError(() => ro.defineXML(secretXML()), "OPERATION_DENIED", "operation forbidden: read only access prevents virSecretDefineXML");
    });

    it("xml must be a string", async () => {
      await expectVirError(() => drv.defineXML(null as unknown as string), "INVALID_ARG", "xml in virSecretDefineXML must not be NULL");
    });

    it("unknown flags", async () => {
      await expectVirError(() => drv.defineXML(secretXML(), 2), "INVALID_ARG", "unsupported flags (0x2) in function secretDefineXML");
    });

    it("parse errors pass through with the parser's code and text", async () => {
      await expectVirError(() => drv.defineXML("<secret><uuid>nope</uuid></secret>"), "INTERNAL_ERROR", "internal error: malformed uuid element");
      await expectVirError(() => drv.defineXML("<secrets/>"), "XML_ERROR", "XML error: expecting root element of 'secret', not 'secrets'");
    });

    it("VALIDATE checks the schema; without it unknown elements are ignored", async () => {
      const xml = `<secret><uuid>${U1}</uuid><foo/></secret>`;
      const e = await expectVirError(() => drv.defineXML(xml, DefineFlags.VALIDATE), "XML_INVALID_SCHEMA", /failed to validate against schema/);
      expect(e.message).to.include("Element secret has extra content: foo");
      expect(drv.numOfSecrets()).to.equal(0);
      await drv.defineXML(xml, 0);
      expect(drv.numOfSecrets()).to.equal(1);
      await drv.defineXML(secretXML({ uuid: U2, usage: ["volume", "/var/lib/x.img"] }), DefineFlags.VALIDATE);
      expect(drv.numOfSecrets()).to.equal(2);
    });

    it("redefine with another usage id → 'is already defined for use with <OLD id>'", async () => {
      await drv.defineXML(secretXML({ uuid: U1, usage: ["volume", "/a"] }));
      await expectVirError(
        () => drv.defineXML(secretXML({ uuid: U1, usage: ["volume", "/b"] })),
        "INTERNAL_ERROR",
        `internal error: a secret with UUID ${U1} is already defined for use with /a`,
      );
      await expectVirError(
        () => drv.defineXML(secretXML({ uuid: U1 })),
        "INTERNAL_ERROR",
        `internal error: a secret with UUID ${U1} is already defined for use with /a`,
      );
    });

    it("redefine of a usage-less secret with a usage → '(null)'", async () => {
      await drv.defineXML(secretXML({ uuid: U1 }));
      await expectVirError(
        () => drv.defineXML(secretXML({ uuid: U1, usage: ["tls", "t"] })),
        "INTERNAL_ERROR",
        `internal error: a secret with UUID ${U1} is already defined for use with (null)`,
      );
    });

    it("private → public refused; public → private allowed", async () => {
      await drv.defineXML(secretXML({ uuid: U1, private: false }));
      await drv.defineXML(secretXML({ uuid: U1, private: true }));
      await expectVirError(
        () => drv.defineXML(secretXML({ uuid: U1, private: false })),
        "INTERNAL_ERROR",
        "internal error: cannot change private flag on existing secret",
      );
      expect(drv.listAll(ListAllFlags.PRIVATE).map((h) => h.uuid)).to.deep.equal([U1]);
    });

    it("new uuid with a usage already held → 'already defined' naming the holder and the new id", async () => {
      await drv.defineXML(secretXML({ uuid: U1, usage: ["iscsi", "iqn.x"] }));
      await expectVirError(
        () => drv.defineXML(secretXML({ uuid: U2, usage: ["iscsi", "iqn.x"] })),
        "INTERNAL_ERROR",
        `internal error: a secret with UUID ${U1} already defined for use with iqn.x`,
      );
      // no uuid: a fresh one each time, still the holder named
      await expectVirError(
        () => drv.defineXML(secretXML({ usage: ["iscsi", "iqn.x"] })),
        "INTERNAL_ERROR",
        `internal error: a secret with UUID ${U1} already defined for use with iqn.x`,
      );
      // same id under another type is another usage
      await drv.defineXML(secretXML({ uuid: U2, usage: ["tls", "iqn.x"] }));
    });

    it("any number of usage-less secrets", async () => {
      for (let i = 0; i < 3; i++) await drv.defineXML(secretXML());
      expect(drv.numOfSecrets()).to.equal(3);
    });

    it("redefine keeps the value; description and ephemeral may change", async () => {
      const h = await drv.defineXML(secretXML({ uuid: U1, usage: ["ceph", "c"] }));
      await h.setValue(enc("v1"));
      await drv.defineXML(secretXML({ uuid: U1, usage: ["ceph", "c"], description: "new text" }));
      expect(dec(await h.getValue())).to.equal("v1");
      expect(h.getXMLDesc()).to.include("<description>new text</description>");
      await drv.defineXML(secretXML({ uuid: U1, usage: ["ceph", "c"], ephemeral: true }));
      expect(dec(await h.getValue())).to.equal("v1");
      await drv.defineXML(secretXML({ uuid: U1, usage: ["ceph", "c"] }));
      expect(dec(await h.getValue())).to.equal("v1");
    });

    it("a type change keeping the id is accepted when nothing else holds the pair, and the usage index follows", async () => {
      await drv.defineXML(secretXML({ uuid: U1, usage: ["ceph", "x"] }));
      await drv.defineXML(secretXML({ uuid: U1, usage: ["volume", "x"] }));
      expect(drv.lookupByUsage("volume", "x").uuid).to.equal(U1);
      await expectVirError(() => drv.lookupByUsage("ceph", "x"), "NO_SECRET", "Secret not found: no secret with matching usage 'x'");
    });

    it("Q2 fix: a type change may not duplicate a (type, id) pair", async () => {
      // libvirt 9.0's sequence that ends with A and C both on (volume, client.admin)
      await drv.defineXML(secretXML({ uuid: U1, usage: ["ceph", "client.admin"] }));
      await drv.defineXML(secretXML({ uuid: U1, usage: ["volume", "client.admin"] }));
      await drv.defineXML(secretXML({ uuid: U3, usage: ["ceph", "client.admin"] }));
      await expectVirError(
        () => drv.defineXML(secretXML({ uuid: U3, usage: ["volume", "client.admin"] })),
        "INTERNAL_ERROR",
        `internal error: a secret with UUID ${U1} already defined for use with client.admin`,
      );
      expect(drv.lookupByUsage("ceph", "client.admin").uuid).to.equal(U3);
      expect(drv.lookupByUsage("volume", "client.admin").uuid).to.equal(U1);
      // and after a reopen both are still there (libvirt would drop one)
      const root = drv.root;
      await drv.close();
      const again = await roots.open(root);
      expect(again.listSecrets(10)).to.deep.equal([U1, U3]);
    });
  });

  describe("lookups (§2.3)", () => {
    beforeEach(async () => {
      await drv.defineXML(secretXML({ uuid: U1, usage: ["volume", "/img/a"] }));
      await drv.defineXML(secretXML({ uuid: U2 }));
    });

    it("lookupByUUID is lenient and canonical", () => {
      expect(drv.lookupByUUID("11111111222233334444555555555555").uuid).to.equal(U1);
      expect(drv.lookupByUUID(`  ${U1.toUpperCase()} `).uuid).to.equal(U1);
    });

    it("malformed uuid → invalid argument", async () => {
      await expectVirError(() => drv.lookupByUUID("nonsense"), "INVALID_ARG", "uuidstr in virSecretLookupByUUIDString must be a valid UUID");
    });

    it("unknown uuid → no secret with matching uuid '<canonical>'", async () => {
      await expectVirError(
        () => drv.lookupByUUID("AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE"),
        "NO_SECRET",
        "Secret not found: no secret with matching uuid 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee'",
      );
    });

    it("lookupByUsage matches type and exact id, by name or number", async () => {
      expect(drv.lookupByUsage("volume", "/img/a").uuid).to.equal(U1);
      expect(drv.lookupByUsage(1, "/img/a").uuid).to.equal(U1);
      await expectVirError(() => drv.lookupByUsage("volume", "/IMG/a"), "NO_SECRET", "Secret not found: no secret with matching usage '/IMG/a'");
      await expectVirError(() => drv.lookupByUsage("ceph", "/img/a"), "NO_SECRET", "Secret not found: no secret with matching usage '/img/a'");
      await expectVirError(() => drv.lookupByUsage(99, "/img/a"), "NO_SECRET", "Secret not found: no secret with matching usage '/img/a'");
      await expectVirError(() => drv.lookupByUsage("none", ""), "NO_SECRET", "Secret not found: no secret with matching usage ''");
      await expectVirError(() => drv.lookupByUsage(0, ""), "NO_SECRET", "Secret not found: no secret with matching usage ''");
    });

    it("usageID must be given", async () => {
      await expectVirError(() => drv.lookupByUsage("volume", undefined as unknown as string), "INVALID_ARG", "usageID in virSecretLookupByUsage must not be NULL");
    });

    it("a usage-less secret has usage id ''", () => {
      const h = drv.lookupByUUID(U2);
      expect(h.usageType).to.equal("none");
      expect(h.usageID).to.equal("");
    });
  });

  describe("counting and listing (§2.4)", () => {
    // one secret per (ephemeral, private) combination
    const combos = [
      { uuid: U1, ephemeral: false, private: false },
      { uuid: U2, ephemeral: false, private: true },
      { uuid: U3, ephemeral: true, private: false },
      { uuid: "44444444-5555-6666-7777-888888888888", ephemeral: true, private: true },
    ];
    beforeEach(async () => {
      for (const c of combos) await drv.defineXML(secretXML(c));
    });

    it("numOfSecrets counts ephemeral ones too", () => {
      expect(drv.numOfSecrets()).to.equal(4);
    });

    it("listSecrets(max) gives at most max canonical uuids", async () => {
      expect(drv.listSecrets(10)).to.have.members(combos.map((c) => c.uuid));
      expect(drv.listSecrets(2)).to.have.length(2);
      expect(drv.listSecrets(0)).to.deep.equal([]);
      await expectVirError(() => drv.listSecrets(-1), "INVALID_ARG", "maxuuids in virConnectListSecrets must be zero or greater");
    });

    it("listAll flag matrix: OR within a group, AND across groups", () => {
      const uuids = (flags: number) => drv.listAll(flags).map((h) => h.uuid).sort();
      const [pp, pP, eP, eX] = combos.map((c) => c.uuid) as [string, string, string, string];
      const F = ListAllFlags;
      expect(uuids(0)).to.deep.equal([pp, pP, eP, eX].sort());
      expect(uuids(F.EPHEMERAL)).to.deep.equal([eP, eX].sort());
      expect(uuids(F.NO_EPHEMERAL)).to.deep.equal([pp, pP].sort());
      expect(uuids(F.PRIVATE)).to.deep.equal([pP, eX].sort());
      expect(uuids(F.NO_PRIVATE)).to.deep.equal([pp, eP].sort());
      expect(uuids(F.EPHEMERAL | F.NO_EPHEMERAL)).to.deep.equal([pp, pP, eP, eX].sort());
      expect(uuids(F.EPHEMERAL | F.PRIVATE)).to.deep.equal([eX]);
      expect(uuids(F.NO_EPHEMERAL | F.NO_PRIVATE)).to.deep.equal([pp]);
      expect(uuids(F.EPHEMERAL | F.NO_EPHEMERAL | F.NO_PRIVATE)).to.deep.equal([pp, eP].sort());
      expect(uuids(15)).to.deep.equal([pp, pP, eP, eX].sort());
      // every combination against the rule, secret by secret
      for (let flags = 0; flags < 16; flags++) {
        const expected = combos
          .filter((c) => {
            const e = flags & 3, p = flags & 12;
            const okE = e === 0 || (c.ephemeral ? (e & 1) !== 0 : (e & 2) !== 0);
            const okP = p === 0 || (c.private ? (p & 4) !== 0 : (p & 8) !== 0);
            return okE && okP;
          })
          .map((c) => c.uuid)
          .sort();
        expect(uuids(flags), `flags ${flags}`).to.deep.equal(expected);
      }
    });

    it("unsupported listAll flags", async () => {
      await expectVirError(() => drv.listAll(0x20), "INVALID_ARG", "unsupported flags (0x20) in function secretConnectListAllSecrets");
      await expectVirError(() => drv.listAll(0x21), "INVALID_ARG", "unsupported flags (0x20) in function secretConnectListAllSecrets");
    });
  });

  describe("values (§2.5)", () => {
    it("set and get arbitrary bytes, NUL included; get returns a copy", async () => {
      const h = await drv.defineXML(secretXML({ uuid: U1 }));
      const input = new Uint8Array([0x61, 0, 0x62]);
      await h.setValue(input);
      input[0] = 0x7a; // the driver kept its own copy
      const got = await h.getValue();
      expect([...got]).to.deep.equal([0x61, 0, 0x62]);
      got.fill(0);
      expect([...(await h.getValue())]).to.deep.equal([0x61, 0, 0x62]);
    });

    it("read-only connection: set and get refused, dumpxml/list/lookup allowed", async () => {
      const root = drv.root;
      const h = await drv.defineXML(secretXML({ uuid: U1 }));
      await h.setValue(enc("x"));
      await drv.close();
      const ro = await roots.open(root, { readOnly: true });
      const rh = ro.lookupByUUID(U1);
      expect(rh.getXMLDesc()).to.include(U1);
      expect(ro.listAll().length).to.equal(1);
      expect(ro.numOfSecrets()).to.equal(1);
      await expectVirError(() => rh.setValue(enc("y")), "OPERATION_DENIED", "operation forbidden: read only access prevents virSecretSetValue");
      await expectVirError(() => rh.getValue(), "OPERATION_DENIED", "operation forbidden: read only access prevents virSecretGetValue");
      await expectVirError(() => rh.undefine(), "OPERATION_DENIED", "operation forbidden: read only access prevents virSecretUndefine");
    });

    it("flags must be 0", async () => {
      const h = await drv.defineXML(secretXML({ uuid: U1 }));
      await expectVirError(() => h.setValue(enc("x"), 1), "INVALID_ARG", "unsupported flags (0x1) in function secretSetValue");
      await expectVirError(() => h.getValue(1), "INVALID_ARG", "unsupported flags (0x1) in function secretGetValue");
      await expectVirError(() => h.getXMLDesc(1), "INVALID_ARG", "unsupported flags (0x1) in function secretGetXMLDesc");
    });

    it("value must be given", async () => {
      const h = await drv.defineXML(secretXML({ uuid: U1 }));
      await expectVirError(() => h.setValue(null as unknown as Uint8Array), "INVALID_ARG", "value in virSecretSetValue must not be NULL");
    });

    it("no value → does not have a value", async () => {
      const h = await drv.defineXML(secretXML({ uuid: U1 }));
      await expectVirError(() => h.getValue(), "NO_SECRET", `Secret not found: secret '${U1}' does not have a value`);
    });

    it("private: can be set, cannot be read except through elevated()", async () => {
      const h = await drv.defineXML(secretXML({ uuid: U1, private: true }));
      await h.setValue(enc("hidden"));
      await expectVirError(() => h.getValue(), "INVALID_SECRET", "Invalid secret: secret is private");
      expect(dec(await drv.elevated().getValue(U1))).to.equal("hidden");
      expect(dec(await drv.elevated().getValue(U1.toUpperCase()))).to.equal("hidden");
      await expectVirError(() => drv.elevated().getValue("zz"), "INVALID_ARG", "uuidstr in virSecretLookupByUUIDString must be a valid UUID");
    });

    it("private and without value: 'secret is private' comes first", async () => {
      const h = await drv.defineXML(secretXML({ uuid: U1, private: true }));
      await expectVirError(() => h.getValue(), "INVALID_SECRET", "Invalid secret: secret is private");
      await expectVirError(() => drv.elevated().getValue(U1), "NO_SECRET", `Secret not found: secret '${U1}' does not have a value`);
    });

    it("Q3 fix: an empty value is refused and the old value stays (memory and store)", async () => {
      const h = await drv.defineXML(secretXML({ uuid: U1 }));
      await h.setValue(enc("old"));
      await expectVirError(() => h.setValue(new Uint8Array(0)), "INVALID_ARG", "invalid argument: secret value must not be empty");
      expect(dec(await h.getValue())).to.equal("old");
      const rec = await drv.store.get<unknown>(SECRET_SPACE, U1);
      expect(dec(rec!.secret!)).to.equal("old");
      await expectVirError(() => drv.elevated().defineWithValue(secretXML({ uuid: U2 }), new Uint8Array(0)), "INVALID_ARG", "invalid argument: secret value must not be empty");
      expect(drv.numOfSecrets()).to.equal(1);
    });

    it("set after undefine → no secret with matching uuid", async () => {
      const h = await drv.defineXML(secretXML({ uuid: U1 }));
      await h.undefine();
      await expectVirError(() => h.setValue(enc("x")), "NO_SECRET", `Secret not found: no secret with matching uuid '${U1}'`);
    });
  });

  describe("undefine (§2.6)", () => {
    it("removes the secret; later calls on the handle → no secret", async () => {
      const h = await drv.defineXML(secretXML({ uuid: U1, usage: ["vtpm", "vm1"] }));
      await h.undefine();
      expect(drv.numOfSecrets()).to.equal(0);
      const gone = `Secret not found: no secret with matching uuid '${U1}'`;
      await expectVirError(() => h.getXMLDesc(), "NO_SECRET", gone);
      await expectVirError(() => h.getValue(), "NO_SECRET", gone);
      await expectVirError(() => h.undefine(), "NO_SECRET", gone);
      await expectVirError(() => drv.lookupByUsage("vtpm", "vm1"), "NO_SECRET", "Secret not found: no secret with matching usage 'vm1'");
      // the usage is free again
      await drv.defineXML(secretXML({ uuid: U2, usage: ["vtpm", "vm1"] }));
    });

    it("wipes the value buffer the driver held", async () => {
      const h = await drv.defineXML(secretXML({ uuid: U1 }));
      await h.setValue(enc("wipe-me"));
      const held = secretListOf(drv).get(U1)!.value!;
      expect(dec(held)).to.equal("wipe-me");
      await h.undefine();
      expect(held.length).to.equal(7);
      expect([...held].every((b) => b === 0)).to.equal(true);
    });

    it("wipes the old buffer when a value is replaced", async () => {
      const h = await drv.defineXML(secretXML({ uuid: U1, ephemeral: true }));
      await h.setValue(enc("first"));
      const held = secretListOf(drv).get(U1)!.value!;
      await h.setValue(enc("second"));
      expect([...held].every((b) => b === 0)).to.equal(true);
    });

    it("ephemeral define and undefine work (libvirt 9.0 embedded crashes, Q4)", async () => {
      const h = await drv.defineXML(secretXML({ uuid: U1, ephemeral: true }));
      await h.setValue(enc("e"));
      await h.undefine();
      expect(drv.numOfSecrets()).to.equal(0);
    });
  });

  describe("events (§2.7)", () => {
    it("lifecycle and value-changed, in order, detail 0, also for ephemeral and unchanged values", async () => {
      const seen: string[] = [];
      const life = (ev: LifecycleEvent | { secret: SecretRef }) => {
        const l = ev as LifecycleEvent;
        expect(l.detail).to.equal(0);
        seen.push(`${l.event === SecretLifecycleEvent.DEFINED ? "defined" : "undefined"}:${l.secret.uuid}:${l.secret.usageType}:${l.secret.usageID}`);
      };
      const val = (ev: LifecycleEvent | { secret: SecretRef }) => seen.push(`value:${ev.secret.uuid}`);
      const id1 = drv.eventRegisterAny(null, SecretEventID.LIFECYCLE, life);
      const id2 = drv.eventRegisterAny(null, SecretEventID.VALUE_CHANGED, val);
      expect(id1).to.be.greaterThan(0);
      expect(id2).to.not.equal(id1);
      const h = await drv.defineXML(secretXML({ uuid: U1, ephemeral: true, usage: ["tls", "srv"] }));
      await h.setValue(enc("a"));
      await h.setValue(enc("a"));
      await drv.defineXML(secretXML({ uuid: U1, usage: ["tls", "srv"] }));
      await h.undefine();
      await expectVirError(() => h.undefine(), "NO_SECRET", /no secret/); // failures emit nothing
      expect(seen).to.deep.equal([
        `defined:${U1}:tls:srv`,
        `value:${U1}`,
        `value:${U1}`,
        `defined:${U1}:tls:srv`,
        `undefined:${U1}:tls:srv`,
      ]);
    });

    it("filters by secret, and deregister stops delivery", async () => {
      const a = await drv.defineXML(secretXML({ uuid: U1 }));
      await drv.defineXML(secretXML({ uuid: U2 }));
      const seen: string[] = [];
      const id = drv.eventRegisterAny(a, SecretEventID.VALUE_CHANGED, (ev) => seen.push(ev.secret.uuid));
      await drv.lookupByUUID(U2).setValue(enc("x"));
      await a.setValue(enc("y"));
      expect(seen).to.deep.equal([U1]);
      // the event's secret is a handle of this driver
      let evHandle: SecretRef | undefined;
      drv.eventRegisterAny(null, SecretEventID.LIFECYCLE, (ev) => (evHandle = ev.secret));
      drv.eventDeregisterAny(id);
      await a.setValue(enc("z"));
      expect(seen).to.deep.equal([U1]);
      await drv.defineXML(secretXML({ uuid: U3 }));
      expect(drv.eventRegisterAny(evHandle!, SecretEventID.LIFECYCLE, () => undefined)).to.be.a("number");
    });

    it("a throwing callback does not break the call or the other callbacks", async () => {
      const seen: number[] = [];
      drv.eventRegisterAny(null, SecretEventID.LIFECYCLE, () => {
        throw new Error("boom");
      });
      drv.eventRegisterAny(null, SecretEventID.LIFECYCLE, () => seen.push(1));
      const warned = new Promise((resolve) => process.once("warning", resolve));
      await drv.defineXML(secretXML({ uuid: U1 }));
      expect(seen).to.deep.equal([1]);
      await warned;
    });

    it("argument errors as libvirt's", async () => {
      const other = await roots.open();
      const foreign = await other.defineXML(secretXML({ uuid: U3 }));
      const F = "virConnectSecretEventRegisterAny";
      await expectVirError(() => drv.eventRegisterAny(foreign, 0, () => undefined), "INVALID_ARG", `secret '${U3}' in ${F} must match connection`);
      await expectVirError(() => drv.eventRegisterAny({ uuid: U3, usageType: "none", usageID: "" }, 0, () => undefined), "INVALID_ARG", `secret '${U3}' in ${F} must match connection`);
      await expectVirError(() => drv.eventRegisterAny(null, 2 as 0, () => undefined), "INVALID_ARG", `eventID in ${F} must be less than 2`);
      await expectVirError(() => drv.eventRegisterAny(null, -1 as 0, () => undefined), "INVALID_ARG", `eventID in ${F} must be zero or greater`);
      await expectVirError(() => drv.eventRegisterAny(null, 0, null as unknown as () => void), "INVALID_ARG", `cb in ${F} must not be NULL`);
      const cb = () => undefined;
      drv.eventRegisterAny(null, 0, cb);
      await expectVirError(() => drv.eventRegisterAny(null, 0, cb), "INVALID_ARG", "invalid argument: event callback already tracked");
      await expectVirError(() => drv.eventDeregisterAny(99), "INVALID_ARG", "invalid argument: could not find event callback 99 for deletion");
      await expectVirError(() => drv.eventDeregisterAny(-1), "INVALID_ARG", "callbackID in virConnectSecretEventDeregisterAny must be zero or greater");
    });
  });

  describe("access hook (§2.9)", () => {
    const DENIED = "access denied: 'secret' denied access";
    async function withHook(deny: (req: Parameters<AccessCheck>[0]) => boolean): Promise<{ d: SecretDriver; log: string[] }> {
      const root = drv.root;
      const h = await drv.defineXML(secretXML({ uuid: U1, usage: ["ceph", "c1"] }));
      await h.setValue(enc("v"));
      await drv.close();
      const log: string[] = [];
      const d = await roots.open(root, {
        accessCheck: (req) => {
          log.push(`${req.object}:${req.perm}`);
          return !deny(req);
        },
      });
      return { d, log };
    }

    it("each API asks libvirt's permissions", async () => {
      const { d, log } = await withHook(() => false);
      const expectPerms = async (fn: () => unknown, perms: string[]) => {
        log.length = 0;
        await fn();
        expect(log).to.deep.equal(perms);
      };
      await expectPerms(() => d.numOfSecrets(), ["connect:search_secrets", "secret:getattr"]);
      await expectPerms(() => d.listAll(), ["connect:search_secrets", "secret:getattr"]);
      await expectPerms(() => d.listSecrets(5), ["connect:search_secrets", "secret:getattr"]);
      await expectPerms(() => d.lookupByUUID(U1), ["secret:getattr"]);
      await expectPerms(() => d.lookupByUsage("ceph", "c1"), ["secret:getattr"]);
      const h = d.lookupByUUID(U1);
      await expectPerms(() => h.getXMLDesc(), ["secret:read"]);
      await expectPerms(() => h.setValue(enc("w")), ["secret:write"]);
      await expectPerms(() => h.getValue(), ["secret:read_secure"]);
      await expectPerms(() => d.defineXML(secretXML({ uuid: U2 })), ["secret:write", "secret:save"]);
      let id = 0;
      await expectPerms(() => (id = d.eventRegisterAny(null, 0, () => undefined)), ["connect:search_secrets"]);
      await expectPerms(() => d.eventDeregisterAny(id), ["connect:read"]);
      await expectPerms(() => d.lookupByUUID(U2).undefine(), ["secret:getattr", "secret:delete"]);
    });

    const cases: Array<[string, string, (d: SecretDriver) => unknown]> = [
      ["getattr", "lookupByUUID", (d) => d.lookupByUUID(U1)],
      ["getattr", "lookupByUsage", (d) => d.lookupByUsage("ceph", "c1")],
      ["read", "getXMLDesc", (d) => d.listAll()[0]!.getXMLDesc()],
      ["write", "setValue", (d) => d.listAll()[0]!.setValue(enc("x"))],
      ["read_secure", "getValue", (d) => d.listAll()[0]!.getValue()],
      ["read_secure", "elevated getValue", (d) => d.elevated().getValue(U1)],
      ["delete", "undefine", (d) => d.listAll()[0]!.undefine()],
      ["write", "defineXML", (d) => d.defineXML(secretXML({ uuid: U2 }))],
      ["save", "defineXML", (d) => d.defineXML(secretXML({ uuid: U2 }))],
      ["search_secrets", "numOfSecrets", (d) => d.numOfSecrets()],
      ["search_secrets", "listAll", (d) => d.listAll()],
      ["search_secrets", "listSecrets", (d) => d.listSecrets(3)],
      ["search_secrets", "eventRegisterAny", (d) => d.eventRegisterAny(null, 0, () => undefined)],
      ["read", "eventDeregisterAny", (d) => d.eventDeregisterAny(1)],
    ];
    for (const [perm, api, call] of cases) {
      it(`denying ${perm} fails ${api} with ACCESS_DENIED`, async () => {
        const object = ["search_secrets"].includes(perm) || api === "eventDeregisterAny" ? "connect" : "secret";
        const { d } = await withHook((req) => req.object === object && req.perm === perm);
        await expectVirError(() => call(d), "ACCESS_DENIED", DENIED);
      });
    }

    it("lists and events are filtered by getattr", async () => {
      const { d } = await withHook((req) => req.object === "secret" && req.perm === "getattr" && req.def.uuid === U2);
      const seen: string[] = [];
      d.eventRegisterAny(null, SecretEventID.LIFECYCLE, (ev) => seen.push(ev.secret.uuid));
      await d.defineXML(secretXML({ uuid: U2 }));
      await d.defineXML(secretXML({ uuid: U3 }));
      expect(seen).to.deep.equal([U3]);
      expect(d.listSecrets(10)).to.deep.equal([U1, U3]);
      expect(d.numOfSecrets()).to.equal(2);
      await expectVirError(() => d.lookupByUUID(U2), "ACCESS_DENIED", DENIED);
    });

    it("a throwing hook is a denial; connect:getattr is checked on open", async () => {
      const { d } = await withHook((req) => {
        if (req.perm === "read") throw new Error("backend down");
        return false;
      });
      await expectVirError(() => d.lookupByUUID(U1).getXMLDesc(), "ACCESS_DENIED", DENIED);
      await expectVirError(() => roots.open(undefined, { accessCheck: (r) => !(r.object === "connect" && r.perm === "getattr") }), "ACCESS_DENIED", DENIED);
    });
  });

  describe("persistence", () => {
    it("persistent secrets and values survive reopen; ephemeral ones do not", async () => {
      const root = drv.root;
      const p = await drv.defineXML(secretXML({ uuid: U1, private: true, usage: ["volume", "/v/1"], description: "d" }));
      await p.setValue(enc("persist"));
      await drv.defineXML(secretXML({ uuid: U2 }));
      const e = await drv.defineXML(secretXML({ uuid: U3, ephemeral: true, usage: ["volume", "/v/3"] }));
      await e.setValue(enc("ephemeral"));
      const xml1 = p.getXMLDesc();
      await drv.close();
      const again = await roots.open(root);
      expect(again.listSecrets(10)).to.deep.equal([U1, U2]);
      expect(again.lookupByUUID(U1).getXMLDesc()).to.equal(xml1);
      expect(again.lookupByUsage("volume", "/v/1").uuid).to.equal(U1);
      expect(dec(await again.elevated().getValue(U1))).to.equal("persist");
      await expectVirError(() => again.lookupByUUID(U2).getValue(), "NO_SECRET", `Secret not found: secret '${U2}' does not have a value`);
      await expectVirError(() => again.lookupByUsage("volume", "/v/3"), "NO_SECRET", /matching usage/);
    });

    it("ephemeral definitions and values never reach a file under the root", async () => {
      const root = drv.root;
      const marker = "EPHEMERAL-MARKER-7c1d";
      const e = await drv.defineXML(secretXML({ uuid: U3, ephemeral: true, description: marker, usage: ["ceph", marker] }));
      await e.setValue(enc("VALUE-MARKER-91ab"));
      const p = await drv.defineXML(secretXML({ uuid: U1 }));
      await p.setValue(enc("PLAIN-MARKER-55ee"));
      await drv.close();
      const hits: string[] = [];
      const scan = async (dir: string): Promise<void> => {
        for (const ent of await readdir(dir, { withFileTypes: true })) {
          const path = join(dir, ent.name);
          if (ent.isDirectory()) await scan(path);
          else {
            const b = await readFile(path);
            for (const m of [marker, "VALUE-MARKER-91ab", "PLAIN-MARKER-55ee", U3]) if (b.includes(m)) hits.push(`${m} in ${path}`);
          }
        }
      };
      await scan(root);
      expect(hits).to.deep.equal([]);
    });

    it("Q1 fix: persistent → ephemeral removes definition, usage index and value from the store", async () => {
      const root = drv.root;
      const h = await drv.defineXML(secretXML({ uuid: U1, usage: ["ceph", "q1"] }));
      await h.setValue(enc("q1"));
      expect(await drv.store.get(SECRET_SPACE, U1)).to.not.equal(undefined);
      await drv.defineXML(secretXML({ uuid: U1, usage: ["ceph", "q1"], ephemeral: true }));
      expect(await drv.store.get(SECRET_SPACE, U1)).to.equal(undefined);
      const usage: string[] = [];
      for await (const [k] of drv.store.list(SECRET_USAGE_SPACE)) usage.push(k);
      expect(usage).to.deep.equal([]);
      expect(dec(await h.getValue())).to.equal("q1"); // still in memory
      await drv.close();
      const again = await roots.open(root);
      expect(again.numOfSecrets()).to.equal(0);
    });

    it("values load lazily after reopen, also across redefines (Q1 after reopen keeps the value in memory)", async () => {
      const root = drv.root;
      const h = await drv.defineXML(secretXML({ uuid: U1 }));
      await h.setValue(enc("lazy"));
      const h2 = await drv.defineXML(secretXML({ uuid: U2 }));
      await h2.setValue(enc("two"));
      await drv.close();
      const again = await roots.open(root);
      expect(secretListOf(again).get(U1)!.value).to.equal(undefined); // still sealed
      await again.defineXML(secretXML({ uuid: U1, description: "redefined" }));
      expect(dec(await again.lookupByUUID(U1).getValue())).to.equal("lazy");
      await again.defineXML(secretXML({ uuid: U2, ephemeral: true }));
      expect(await again.store.get(SECRET_SPACE, U2)).to.equal(undefined);
      expect(dec(await again.lookupByUUID(U2).getValue())).to.equal("two");
    });

    it("ephemeral → persistent writes the in-memory value too", async () => {
      const root = drv.root;
      const h = await drv.defineXML(secretXML({ uuid: U1, ephemeral: true }));
      await h.setValue(enc("moved"));
      await drv.defineXML(secretXML({ uuid: U1 }));
      await drv.close();
      const again = await roots.open(root);
      expect(dec(await again.lookupByUUID(U1).getValue())).to.equal("moved");
    });

    it("two stored records on one usage (written behind the driver's back): the usage index decides", async () => {
      const root = drv.root;
      await drv.defineXML(secretXML({ uuid: U1, usage: ["ceph", "dup"] }));
      await drv.defineXML(secretXML({ uuid: U2, usage: ["ceph", "other"] }));
      let indexKey = "";
      for await (const [k, rec] of drv.store.list<{ uuid: string }>(SECRET_USAGE_SPACE)) if (rec.data.uuid === U1) indexKey = k;
      await drv.close();
      const store = await SecretStore.open({ root });
      const forged = { v: 1, uuid: U2, isPrivate: false, usageType: "ceph", usageId: "dup" };
      await store.batch([
        { type: "put", space: SECRET_SPACE, key: U2, data: forged },
        { type: "put", space: SECRET_USAGE_SPACE, key: indexKey, data: { uuid: U2, usageType: "ceph", usageId: "dup" } },
      ]);
      await store.close();
      const warned = new Promise<Error>((resolve) => process.once("warning", resolve));
      const again = await roots.open(root);
      expect(again.lookupByUsage("ceph", "dup").uuid).to.equal(U2);
      expect(again.listSecrets(10)).to.deep.equal([U2]);
      expect((await warned).message).to.equal(`secret ${U1} not loaded: its usage is held by ${U2}`);
    });

    it("a second driver on the same root is refused", async () => {
      let err: unknown;
      try {
        await roots.open(drv.root);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(VirError);
    });

    it("rekey keeps every value readable, also after reopen", async () => {
      const root = drv.root;
      const h = await drv.defineXML(secretXML({ uuid: U1 }));
      await h.setValue(enc("rekeyed"));
      await drv.rekey();
      expect(dec(await h.getValue())).to.equal("rekeyed");
      await drv.close();
      const again = await roots.open(root);
      expect(dec(await again.lookupByUUID(U1).getValue())).to.equal("rekeyed");
    });

    it("store files stay private", async () => {
      const st = await stat(drv.root);
      expect(st.mode & 0o077).to.equal(0);
    });
  });

  describe("rollback when the store write fails", () => {
    it("leaves memory exactly as before", async () => {
      const h = await drv.defineXML(secretXML({ uuid: U1, usage: ["ceph", "keep"], description: "before" }));
      await h.setValue(enc("before"));
      const xmlBefore = h.getXMLDesc();
      await drv.store.close(); // pull the store out from under the driver
      // a store failure must surface
      const fails = (fn: () => Promise<unknown>): Promise<Error> => expectReject(fn(), Error);
      await fails(() => drv.defineXML(secretXML({ uuid: U2, usage: ["ceph", "new"] })));
      await fails(() => drv.defineXML(secretXML({ uuid: U1, usage: ["ceph", "keep"], description: "after" })));
      await fails(() => h.setValue(enc("after")));
      await fails(() => h.undefine());
      await fails(() => drv.elevated().defineWithValue(secretXML({ uuid: U3 }), enc("x")));
      expect(drv.listSecrets(10)).to.deep.equal([U1]);
      expect(h.getXMLDesc()).to.equal(xmlBefore);
      expect(dec(await h.getValue())).to.equal("before");
      await expectVirError(() => drv.lookupByUsage("ceph", "new"), "NO_SECRET", /matching usage/);
      // ephemeral changes need no store and still work
      const e = await drv.defineXML(secretXML({ uuid: U3, ephemeral: true }));
      await e.setValue(enc("mem"));
    });
  });

  describe("elevated extension points for the volume driver", () => {
    it("defineWithValue writes secret, value and extra records in one batch; undefine removes them together", async () => {
      const root = drv.root;
      const vol = { type: "put" as const, space: "volume", key: "/pool/a.img", data: { secret: U1 } };
      const h = await drv.elevated().defineWithValue(secretXML({ uuid: U1, private: true, usage: ["volume", "/pool/a.img"] }), enc("k"), [vol]);
      expect(h.uuid).to.equal(U1);
      expect((await drv.store.get<{ secret: string }>("volume", "/pool/a.img"))!.data.secret).to.equal(U1);
      await drv.close();
      const again = await roots.open(root);
      expect(dec(await again.elevated().getValue(U1))).to.equal("k");
      await again.elevated().undefine(U1, [{ type: "del", space: "volume", key: "/pool/a.img" }]);
      expect(await again.store.get("volume", "/pool/a.img")).to.equal(undefined);
      expect(again.numOfSecrets()).to.equal(0);
    });

    it("a bad extra op fails the whole batch: no secret is defined", async () => {
      await expectVirError(
        () => drv.elevated().defineWithValue(secretXML({ uuid: U1 }), enc("k"), [{ type: "put", space: "BAD SPACE", key: "k", data: 1 }]),
        "INVALID_ARG",
        /space name/,
      );
      expect(drv.numOfSecrets()).to.equal(0);
    });

    it("defineWithValue accepts a SecretDef and checks it", async () => {
      const h = await drv.elevated().defineWithValue({ uuid: U1, ephemeral: false, isPrivate: false, usageType: "tls", usageId: "t" }, enc("v"));
      expect(h.usageType).to.equal("tls");
      await expectVirError(
        () => drv.elevated().defineWithValue({ uuid: "bad", ephemeral: false, isPrivate: false, usageType: "none" }, enc("v")),
        "INVALID_ARG",
        "invalid argument: invalid secret definition: malformed uuid",
      );
      await expectVirError(
        () => drv.elevated().defineWithValue({ uuid: U2, ephemeral: false, isPrivate: false, usageType: "ceph" }, enc("v")),
        "INVALID_ARG",
        "invalid argument: invalid secret definition: ceph usage needs a non-empty <name>",
      );
      // inherited Object members are no usage types
      for (const usageType of ["toString", "constructor", "__proto__"]) {
        await expectVirError(
          () => drv.elevated().defineWithValue({ uuid: U2, ephemeral: false, isPrivate: false, usageType, usageId: "x" } as unknown as SecretDef, enc("v")),
          "INVALID_ARG",
          `invalid argument: invalid secret definition: unknown usage type '${usageType}'`,
        );
      }
      await expectVirError(
        () => drv.elevated().defineWithValue(secretXML({ uuid: U2 }), null as unknown as Uint8Array),
        "INVALID_ARG",
        "value in virSecretSetValue must not be NULL",
      );
      expect(drv.numOfSecrets()).to.equal(1);
    });
  });

  it("calls after close fail clearly", async () => {
    await drv.close();
    await expectVirError(() => drv.numOfSecrets(), "OPERATION_INVALID", /closed/);
  });
});
