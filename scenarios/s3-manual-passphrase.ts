// Scenario 3: manually specified passphrase, no local DB. The app defines an
// ephemeral (private) secret, sets its passphrase, creates the volume naming
// that secret, and boots the guest; the key is fetched from memory.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { embedURI, generateUUID, openSecretDriver, openVolumeDriver, SECRET_SPACE, type SecretDriver } from "../src/index.js";
import {
  bootChecks,
  bootGuest,
  check,
  describeBoot,
  diskOf,
  enc,
  guestData,
  installGuest,
  luksEncryption,
  scanCheck,
  scanForPassphrase,
  secretXML,
  subdir,
  volumeOptions,
  volumeXML,
  type BootResult,
  type Check,
  type GuestData,
  type Scenario,
  type ScenarioContext,
  type ScanResult,
  type ScenarioResult,
} from "./lib.js";

export interface S3Result extends ScenarioResult {
  readonly scenario: "s3";
  readonly secretUuid: string;
  /** the uuid the volume's description names */
  readonly volumeSecretUuid: string;
  readonly volumePath: string;
  /** what the volume record says it owns: a secret the user named is not the volume's */
  readonly recordOwnsSecret: boolean | undefined;
  /** the store never held the secret (ephemeral: memory only) */
  readonly recordInStore: boolean;
  readonly boot: BootResult;
  /** a GetValue on the private secret through the ordinary handle: its error code */
  readonly plainGetValue: string;
  readonly keyCheckOk: boolean;
  readonly rootScan: ScanResult;
  readonly data: GuestData;
}

async function run(ctx: ScenarioContext): Promise<S3Result> {
  const root = join(ctx.workdir, "root");
  const pool = await subdir(ctx, "pool");
  const name = "db.img";
  const data = guestData();
  const uuid = generateUUID();
  // the app's own passphrase: words plus a random tail, so every run differs
  const passphrase = enc(`correct horse battery staple ${randomBytes(9).toString("base64")}`);

  let secrets: SecretDriver | undefined = await openSecretDriver({ uri: embedURI(root) });
  try {
    ctx.log(`app: virSecretDefineXML ${uuid} ephemeral='yes' private='yes'`);
    const h = await secrets.defineXML(secretXML({ uuid, ephemeral: true, private: true, description: "db disk" }));
    ctx.log(`app: virSecretSetValue (${passphrase.length} bytes of its own passphrase)`);
    await h.setValue(passphrase);
    const vd = await openVolumeDriver({ secrets, pool, ...volumeOptions(ctx) });
    ctx.log(`app: virStorageVolCreateXML ${name} (raw LUKS) with <secret type='passphrase' uuid='${uuid}'/>`);
    await vd.createXML(volumeXML(name, "raw", luksEncryption(uuid)));
    const disk = await diskOf(vd, name);
    const rec = await vd.record(name);
    await installGuest(secrets, disk, data, ctx);
    ctx.log("app: the guest's first run wrote its data");
    const boot = await bootGuest(secrets, disk, data, ctx);
    ctx.log(`agent boots the guest (key from memory): ${describeBoot(boot)}`);
    let plainGetValue = "returned the value";
    try {
      (await h.getValue()).fill(0);
    } catch (e) {
      plainGetValue = (e as { codeName?: string }).codeName ?? String(e);
    }
    ctx.log(`an ordinary virSecretGetValue on the private secret: ${plainGetValue}`);
    const keyCheckOk = (await vd.keyCheck(name)).ok;
    const recordInStore = (await secrets.store.get(SECRET_SPACE, uuid)) !== undefined;
    ctx.log(`store record of the secret: ${recordInStore ? "present" : "none (memory only)"}`);
    await secrets.close();
    secrets = undefined;
    const rootScan = await scanForPassphrase(ctx, root, passphrase);
    return {
      scenario: "s3",
      secretUuid: uuid,
      volumeSecretUuid: disk.secretUuid,
      volumePath: disk.path,
      recordOwnsSecret: rec?.ownsSecret,
      recordInStore,
      boot,
      plainGetValue,
      keyCheckOk,
      rootScan,
      data,
    };
  } finally {
    passphrase.fill(0);
    await secrets?.close();
  }
}

function verify(r: S3Result): Check[] {
  return [
    check("the volume names the app's secret", r.volumeSecretUuid === r.secretUuid),
    check("the volume does not own the app's secret", r.recordOwnsSecret === false),
    check("the ephemeral secret never reached the store", !r.recordInStore),
    ...bootChecks("boot", r.boot, r.data),
    check("the agent read the private secret through the elevated handle", r.boot.secretRead === "elevated"),
    check("an ordinary GetValue of the private secret is refused (INVALID_SECRET)", r.plainGetValue === "INVALID_SECRET"),
    check("virsecret's key check agrees", r.keyCheckOk),
    scanCheck("the passphrase is nowhere in clear under the root", r.rootScan),
  ];
}

export const s3: Scenario<S3Result> = {
  id: "s3",
  title: "Manually specified passphrase, no local DB",
  usesKmip: false,
  run,
  verify,
};
