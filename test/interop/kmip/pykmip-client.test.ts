// PyKMIP's own client (ProxyKmipClient, /usr/bin/python3) runs the same
// scenario — create, get, register, get_attributes, locate, activate, revoke,
// destroy and the refusals between — against PyKMIP's server and against
// ours; the results must match step for step. One deliberate difference:
// another owner's object is Permission Denied on PyKMIP and Item Not Found
// on ours (foreign objects must be indistinguishable from absent ones).

import { expect } from "chai";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { peerIdentities, pykmipPeer } from "./peer.js";
import { startTestServer, type TestServer } from "../../unit/kmip/server-fixture.js";

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL("pykmip_scenario.py", import.meta.url));
type Step = [string, string, ...unknown[]];

async function scenario(host: string, port: number, ca: string, a: { cert: string; key: string }, b: { cert: string; key: string }): Promise<Step[]> {
  const { stdout } = await run("/usr/bin/python3", [SCRIPT, host, String(port), a.cert, a.key, ca, b.cert, b.key], { timeout: 60_000 });
  return JSON.parse(stdout) as Step[];
}

describe("PyKMIP's client against our KMIP server", function () {
  this.timeout(120_000);
  let srv: TestServer;
  const ids = peerIdentities();
  before(async () => {
    srv = await startTestServer();
  });
  after(async () => {
    await srv?.stop();
    ids.dispose();
  });

  it("gets the results PyKMIP's own server gives", async () => {
    const peer = pykmipPeer();
    const tag = `${process.pid}-${Date.now()}`;
    const theirs = await scenario(peer.host, peer.port, peer.ca, ids.issue(`scn-a-${tag}`), ids.issue(`scn-b-${tag}`));
    const ours = await scenario("127.0.0.1", srv.port, srv.ca.cert, srv.issue(`scn-a-${tag}`), srv.issue(`scn-b-${tag}`));
    expect(ours.map((s) => s[0])).to.deep.equal(theirs.map((s) => s[0]));
    // sanity: the scenario really exercised both outcomes on PyKMIP
    expect(theirs.filter((s) => s[1] === "ok").length).to.be.greaterThan(12);
    expect(theirs.filter((s) => s[1] === "error").length).to.be.greaterThan(5);
    for (let i = 0; i < theirs.length; i++) {
      const name = theirs[i][0];
      if (name === "foreign get" || name === "foreign destroy") {
        expect(theirs[i][3], name).to.equal("ResultReason.PERMISSION_DENIED");
        expect(ours[i], name).to.deep.equal([name, "error", "KmipOperationFailure", "ResultReason.ITEM_NOT_FOUND", theirs[i][4]]);
        continue;
      }
      expect(ours[i], name).to.deep.equal(theirs[i]);
    }
  });
});
