// Scenario 7 end to end: two tenants on one keystore; a foreign key id is
// answered exactly like a random one, for every operation.
import { expect } from "chai";
import { s7 } from "../../scenarios/index.js";
import { endState, expectBooted, TOOLINGS } from "./helpers.js";

describe("scenario 7: keys per tenant", function () {
  this.timeout(120_000);
  for (const tools of TOOLINGS) {
    it(`${tools}: B's errors for A's ids equal those for random ids; each tenant's keys and volumes intact`, async () => {
      const r = await endState(s7, { tools });
      expect(r.probes).to.equal(30);
      const ops = ["getKey", "getKey metadata", "copyKey", "deleteKey", "create volume with key id"];
      expect(r.foreignOutcomes).to.deep.equal(ops.map((op) => `${op}: KeyNotFound/KEY_NOT_FOUND/Key not found, uuid: <id>`).sort());
      expect(r.randomOutcomes).to.deep.equal(r.foreignOutcomes);
      for (const t of [r.alice, r.bob]) {
        expect(t.listed).to.deep.equal(t.keys);
        expect(t.keys).to.have.length(3);
        expect(t.keysIntact).to.equal(true);
        expect(t.volumes).to.have.length(2);
        for (const b of t.boots) expectBooted(b, r.data, tools);
      }
      expect(r.alice.keys.filter((k) => r.bob.keys.includes(k))).to.deep.equal([]);
      expect(r.hostSecrets).to.equal(4);
      expect(r.secretFilesLeft).to.deep.equal([]);
    });
  }
});
