// Child process for the crash test: opens ROOT and POOL and starts a create
// with a generated secret; the MOCK qemu-img (mode "hang", from the
// environment) never finishes, and the test SIGKILLs this process.
import { openSecretDriver } from "../../../src/secret/driver.js";
import { embedURI } from "../../../src/secret/uri.js";
import { openVolumeDriver } from "../../../src/storage/volume-driver.js";

const [root, pool, secretDir] = process.argv.slice(2) as [string, string, string];
const secrets = await openSecretDriver({ uri: embedURI(root) });
const vd = await openVolumeDriver({ secrets, pool, secretFileDir: secretDir, iterTimeMs: 10 });
await vd.createXML(`<volume><name>a.img</name><capacity unit='MiB'>16</capacity><target><format type='raw'/><encryption format='luks'/></target></volume>`, {
  generateSecret: "persistent",
});
process.stdout.write("created (the test expected to kill this process first)\n");
