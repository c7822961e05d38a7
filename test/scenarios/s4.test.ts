// Scenario 4 end to end, against our KMIP server and PyKMIP: the secret set
// from the keystore boots a transient guest and, once undefined, leaves
// nothing under the host's root (byte scan for the passphrase and the uuid).
import { expect } from "chai";
import { s4 } from "../../scenarios/index.js";
import { endState, expectBooted, KMIP_SERVERS, TOOLINGS } from "./helpers.js";

describe("scenario 4: external keystore, starting a guest", function () {
  this.timeout(120_000);
  for (const tools of TOOLINGS) for (const kmip of KMIP_SERVERS) {
    it(`${tools}, ${kmip}: boots with the keystore's passphrase, then nothing about the secret remains on the host`, async () => {
      const r = await endState(s4, { kmip, tools });
      expect(r.keystore).to.equal(kmip);
      expect(r.valueFromKeystore).to.equal(true);
      expectBooted(r.boot, r.data, tools);
      expect(r.boot.secretRead).to.equal("elevated");
      expect(r.after).to.deep.equal({ secretsListed: [], lookup: "NO_SECRET", recordInStore: false, secretsAfterRestart: 0 });
      expect(r.rootScan.files).to.be.greaterThan(2);
      expect(r.rootScan.hits).to.deep.equal([]);
      expect(r.keystoreStillHasKey).to.equal(true);
      expect(r.secretFilesLeft).to.deep.equal([]);
    });
  }
});
