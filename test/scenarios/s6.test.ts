// Scenario 6 end to end: BYOK. The volume is encrypted under a clone of the
// user's key; deleting the volume deletes the clone, the original stays.
import { expect } from "chai";
import { s6 } from "../../scenarios/index.js";
import { endState, expectBooted, TOOLINGS } from "./helpers.js";

describe("scenario 6: bring your own key", function () {
  this.timeout(120_000);
  for (const tools of TOOLINGS) {
    it(`${tools}: clone owned by the volume, gone after delete; the original intact`, async () => {
      const r = await endState(s6, { tools });
      expect(r.record?.keyId).to.be.a("string").and.not.equal(r.originalKeyId);
      expect(r.record).to.include({ ownsKey: true, ownsSecret: true });
      expect(r.cloneSameBytes).to.equal(true);
      expect(r.passphraseIsCloneHex).to.equal(true);
      expect(r.volumeInfo).to.deep.equal({ format: "luks", encrypted: true, encryptFormat: "luks", by: tools === "qemu" ? "qemu-img info" : "native header probe" });
      expectBooted(r.boot, r.data, tools);
      expect(r.keysWhileVolume).to.have.members([r.originalKeyId, r.record!.keyId!]);
      expect(r.afterDelete).to.deep.equal({ volumeFiles: [], secrets: [], clone: "KEY_NOT_FOUND", originalIntact: true, keys: [r.originalKeyId] });
      expect(r.secretFilesLeft).to.deep.equal([]);
    });
  }
});
