// Child process for the crash tests: wraps ROOT (mode "wrap") or rekeys the
// wrapped ROOT (mode "rekey") with a KEK from the local keystore at KEYS; the
// MOCK keystore wrapper hangs on getKey call HANG after writing SIGNAL, and the
// test SIGKILLs this process there: no abort or cleanup code runs.
import { openLocalKeystore } from "../../../src/keystore/local.js";
import { openSecretDriver } from "../../../src/secret/driver.js";
import { embedURI } from "../../../src/secret/uri.js";
import { GatedKeystore } from "./gated-keystore.js";

const [mode, root, keys, keyId, hang, signalFile, reference] = process.argv.slice(2) as [string, string, string, string, string, string, string];
const km = await openLocalKeystore({ root: keys });
const gated = new GatedKeystore(km, { hangOn: Number(hang), signalFile });
const env = { keystore: gated.km, context: { user: "ops", project: "infra" }, keyId, reference };
if (mode === "wrap") {
  const drv = await openSecretDriver({ uri: embedURI(root) });
  await drv.wrapMasterKey(env);
} else {
  const drv = await openSecretDriver({ uri: embedURI(root), masterKeyEnvelope: env });
  await drv.rekey();
}
process.stdout.write("finished (the test expected to kill this process first)\n");
