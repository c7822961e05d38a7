// Scenario 3 end to end: the app's own passphrase on an ephemeral private
// secret; the volume names it, the guest boots with the key from memory.
import { expect } from "chai";
import { s3 } from "../../scenarios/index.js";
import { endState, expectBooted, TOOLINGS } from "./helpers.js";

describe("scenario 3: manually specified passphrase, no local DB", function () {
  this.timeout(120_000);
  for (const tools of TOOLINGS) {
    it(`${tools}: the volume uses the app's secret, read from memory through the elevated handle`, async () => {
      const r = await endState(s3, { tools });
      expect(r.volumeSecretUuid).to.equal(r.secretUuid);
      expect(r.recordOwnsSecret).to.equal(false);
      expect(r.recordInStore).to.equal(false);
      expectBooted(r.boot, r.data, tools);
      expect(r.boot.secretRead).to.equal("elevated");
      expect(r.plainGetValue).to.equal("INVALID_SECRET");
      expect(r.keyCheckOk).to.equal(true);
      expect(r.rootScan.files).to.be.greaterThan(2);
      expect(r.rootScan.hits).to.deep.equal([]);
      expect(r.secretFilesLeft).to.deep.equal([]);
    });
  }
});
