// Scenario 2 end to end: ephemeral auto-created secret; gone after a restart,
// redefined with the app's saved value, and the guest boots again.
import { expect } from "chai";
import { s2 } from "../../scenarios/index.js";
import { endState, expectBooted, TOOLINGS } from "./helpers.js";

describe("scenario 2: auto-created secret, no local DB", function () {
  this.timeout(120_000);
  for (const tools of TOOLINGS) {
    it(`${tools}: the secret is gone after the restart; after redefine + SetValue the guest reads its data`, async () => {
      const r = await endState(s2, { tools });
      expect(r.generated).to.deep.equal({ ephemeral: true, private: false, usageId: r.volume.path });
      expect(r.saved).to.deep.equal({ mode: 0o600, length: 64 });
      expect(r.recordBeforeRestart).to.equal(false);
      expectBooted(r.bootBeforeRestart, r.data, tools);
      expect(r.lookupAfterRestart).to.equal("NO_SECRET");
      expect(r.bootAfterRestart.opened).to.equal(false);
      expect(r.bootAfterRestart.error).to.match(/^NO_SECRET: .*no secret with matching uuid/);
      expect(r.redefined).to.deep.equal({ uuid: r.volume.secretUuid, ephemeral: true, recordInStore: false });
      expectBooted(r.bootAfterRedefine, r.data, tools);
      expect(r.bootAfterRedefine.secretRead).to.equal("plain");
      expect(r.rootScan.hits).to.deep.equal([]);
      expect(r.secretFilesLeft).to.deep.equal([]);
    });
  }
});
