// Scenario 5 end to end, against our KMIP server and PyKMIP: a volume created
// while the keystore-set secret exists; after the undefine it still opens
// when the secret is set from the keystore again.
import { expect } from "chai";
import { s5 } from "../../scenarios/index.js";
import { endState, expectBooted, KMIP_SERVERS, TOOLINGS } from "./helpers.js";

describe("scenario 5: external keystore, creating a volume", function () {
  this.timeout(120_000);
  for (const tools of TOOLINGS) for (const kmip of KMIP_SERVERS) {
    it(`${tools}, ${kmip}: the volume is made under hex of the KMIP key; the host keeps no secret`, async () => {
      const r = await endState(s5, { kmip, tools });
      expect(r.keystore).to.equal(kmip);
      expect(r.valueIsKeyHex).to.equal(true);
      expect(r.volume).to.include({ format: "qcow2", encrypted: true, encryptFormat: "luks", by: tools === "qemu" ? "qemu-img info" : "native header probe" });
      expect(r.record).to.deep.equal({ secretUuid: r.secretUuid, ownsSecret: false });
      expect(r.after).to.deep.equal({ secretsListed: [], recordInStore: false });
      expect(r.rootScan.hits).to.deep.equal([]);
      expectBooted(r.laterBoot, r.data, tools);
      expect(r.secretsAtEnd).to.equal(0);
      expect(r.secretFilesLeft).to.deep.equal([]);
    });
  }
});
