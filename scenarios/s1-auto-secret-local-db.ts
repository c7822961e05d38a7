// Scenario 1: auto-created secret, local DB. The app creates an encrypted
// qcow2 volume asking for an auto-created secret; virsecret generates a random
// passphrase, defines a persistent private secret (usage volume = the path)
// and creates the volume. The app restarts; the agent boots the guest with
// the key read out of the local DB.
import { join } from "node:path";
import { embedURI, openSecretDriver, openVolumeDriver, parseSecretXML, SECRET_SPACE, type SecretDriver } from "../src/index.js";
import {
  bootChecks,
  bootGuest,
  check,
  describeBoot,
  diskOf,
  guestData,
  installGuest,
  scanCheck,
  scanForPassphrase,
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

export interface S1Result extends ScenarioResult {
  readonly scenario: "s1";
  readonly volume: { readonly name: string; readonly path: string; readonly secretUuid: string };
  /** the generated secret as listed after the restart */
  readonly secret: { readonly ephemeral: boolean; readonly private: boolean; readonly usageType: string; readonly usageId: string } | undefined;
  /** the store of the root holds the secret's record (sealed value) after the restart */
  readonly persistedRecord: boolean;
  readonly passphraseLength: number;
  /** root files holding the passphrase in clear (raw, base64 or hex) */
  readonly rootScan: ScanResult;
  readonly boot: BootResult;
  readonly keyCheckOk: boolean;
  readonly data: GuestData;
}

async function run(ctx: ScenarioContext): Promise<S1Result> {
  const root = join(ctx.workdir, "root");
  const pool = await subdir(ctx, "pool");
  const name = "mail.qcow2";
  const data = guestData();
  const uri = embedURI(root);

  let secrets: SecretDriver | undefined = await openSecretDriver({ uri });
  try {
    let vd = await openVolumeDriver({ secrets, pool, ...volumeOptions(ctx) });
    ctx.log(`app: virStorageVolCreateXML ${name} (qcow2, <encryption format='luks'/>), asking for an auto-created persistent private secret`);
    const ref = await vd.createXML(volumeXML(name, "qcow2", "<encryption format='luks'/>"), { generateSecret: "persistent", private: true });
    const disk = await diskOf(vd, name);
    ctx.log(`virsecret: created ${ref.path}; its <encryption> names secret ${disk.secretUuid}`);
    const def = parseSecretXML(secrets.lookupByUUID(disk.secretUuid).getXMLDesc());
    ctx.log(`virsecret: secret ${def.uuid} ephemeral=${def.ephemeral ? "yes" : "no"} private=${def.isPrivate ? "yes" : "no"} usage volume=${def.usageId}`);
    await installGuest(secrets, disk, data, ctx);
    ctx.log(`app: the guest's first run wrote its data (${data.regions.length} regions)`);

    ctx.log("app restarts: driver closed, a new one opened on the same root");
    await secrets.close();
    secrets = undefined;
    secrets = await openSecretDriver({ uri });
    vd = await openVolumeDriver({ secrets, pool, ...volumeOptions(ctx) });

    const h = secrets.lookupByUUID(disk.secretUuid);
    const after = parseSecretXML(h.getXMLDesc());
    const persistedRecord = (await secrets.store.get(SECRET_SPACE, disk.secretUuid)) !== undefined;
    ctx.log(`agent: secret ${after.uuid} is back from the local DB (record in the store: ${persistedRecord ? "yes" : "no"})`);
    const bootDisk = await diskOf(vd, name);
    const boot = await bootGuest(secrets, bootDisk, data, ctx);
    ctx.log(`agent boots the guest: ${describeBoot(boot)}`);
    const keyCheckOk = (await vd.keyCheck(name)).ok;
    ctx.log(`virsecret key check of ${name}: ${keyCheckOk ? "the secret opens it" : "the secret does NOT open it"}`);

    const value = await secrets.elevated().getValue(disk.secretUuid);
    const passphraseLength = value.length;
    await secrets.close(); // flush the store before scanning its files
    secrets = undefined;
    const rootScan = await scanForPassphrase(ctx, root, value);
    value.fill(0);

    return {
      scenario: "s1",
      volume: { name, path: ref.path, secretUuid: disk.secretUuid },
      secret: { ephemeral: after.ephemeral, private: after.isPrivate, usageType: after.usageType, usageId: after.usageId ?? "" },
      persistedRecord,
      passphraseLength,
      rootScan,
      boot,
      keyCheckOk,
      data,
    };
  } finally {
    await secrets?.close();
  }
}

function verify(r: S1Result): Check[] {
  return [
    check("the volume's <encryption> names the generated secret", /^[0-9a-f-]{36}$/.test(r.volume.secretUuid)),
    check("the secret is persistent, private, usage volume = the volume's path",
      r.secret !== undefined && !r.secret.ephemeral && r.secret.private && r.secret.usageType === "volume" && r.secret.usageId === r.volume.path),
    check("after the restart the secret's record is in the local DB", r.persistedRecord),
    check("the generated passphrase is 64 characters (32 random bytes as hex)", r.passphraseLength === 64),
    scanCheck("the passphrase is nowhere in clear under the root", r.rootScan),
    ...bootChecks("boot after restart", r.boot, r.data),
    check("the agent read the private secret through the elevated handle", r.boot.secretRead === "elevated"),
    check("virsecret's key check agrees", r.keyCheckOk),
  ];
}

export const s1: Scenario<S1Result> = {
  id: "s1",
  title: "Auto-created secret, local DB",
  usesKmip: false,
  run,
  verify,
};
