// Scenario 8 end to end, against our KMIP server and PyKMIP: two roots bind
// one uuid to one KMIP key; host B opens the volume host A created.
import { expect } from "chai";
import { s8 } from "../../scenarios/index.js";
import { endState, expectBooted, KMIP_SERVERS, TOOLINGS } from "./helpers.js";

describe("scenario 8: a cluster of hosts", function () {
  this.timeout(120_000);
  for (const tools of TOOLINGS) for (const kmip of KMIP_SERVERS) {
    it(`${tools}, ${kmip}: same uuid on two roots, value from the keystore, A's volume opened on B`, async () => {
      const r = await endState(s8, { kmip, tools });
      expect(r.keystore).to.equal(kmip);
      expect(r.hostA.root).to.not.equal(r.hostB.root);
      for (const h of [r.hostA, r.hostB]) {
        expect(h.boundTo).to.equal(r.keyId);
        expect(h.valueIsKeyHex).to.equal(true);
        expect(h.volumeSecretUuid).to.equal(r.secretUuid);
        expect(h.keyCheckOk).to.equal(true);
        expect(h.rootScan.files).to.be.greaterThan(2);
        expect(h.rootScan.hits).to.deep.equal([]);
      }
      expect(r.volume).to.include({ encrypted: true, by: tools === "qemu" ? "qemu-img info" : "native header probe" });
      expectBooted(r.bootOnB, r.data, tools);
      expectBooted(r.bootOnBAfterRestart, r.data, tools);
      expect(r.secretFilesLeft).to.deep.equal([]);
    });
  }
});
