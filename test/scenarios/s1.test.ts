// Scenario 1 end to end: auto-created persistent secret, the app restarts,
// the key comes out of the local DB and the guest's data is read back, by real
// qemu-io and by the native LUKS reader (each run with both toolings).
import { expect } from "chai";
import { s1 } from "../../scenarios/index.js";
import { endState, expectBooted, TOOLINGS } from "./helpers.js";

describe("scenario 1: auto-created secret, local DB", function () {
  this.timeout(120_000);
  for (const tools of TOOLINGS) {
    it(`${tools}: after a restart the secret comes from the local DB and the guest boots`, async () => {
      const r = await endState(s1, { tools });
      expect(r.secret).to.deep.equal({ ephemeral: false, private: true, usageType: "volume", usageId: r.volume.path });
      expect(r.persistedRecord).to.equal(true);
      expect(r.passphraseLength).to.equal(64);
      expect(r.rootScan.files).to.be.greaterThan(2);
      expect(r.rootScan.hits).to.deep.equal([]);
      expectBooted(r.boot, r.data, tools);
      expect(r.boot.secretRead).to.equal("elevated");
      expect(r.keyCheckOk).to.equal(true);
      expect(r.secretFilesLeft).to.deep.equal([]);
    });
  }
});
