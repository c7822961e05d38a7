// Scenario 2: auto-created secret, no local DB. As 1, but the generated
// secret is ephemeral: the app fetches the passphrase with GetValue and saves
// it somewhere safe. After a restart the secret is gone from virsecret; the
// app defines it again (same uuid, ephemeral), sets the saved value, and the
// guest boots.
import { chmod, readFile, stat, writeFile } from "node:fs/promises";
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
  outcome,
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

export interface S2Result extends ScenarioResult {
  readonly scenario: "s2";
  readonly volume: { readonly name: string; readonly path: string; readonly secretUuid: string };
  readonly generated: { readonly ephemeral: boolean; readonly private: boolean; readonly usageId: string };
  /** the app's safe copy: its file mode and whether it equals what GetValue gave */
  readonly saved: { readonly mode: number; readonly length: number };
  /** store record of the secret before the restart (ephemeral: none) */
  readonly recordBeforeRestart: boolean;
  readonly bootBeforeRestart: BootResult;
  /** lookup of the uuid right after the restart: the error code when it failed */
  readonly lookupAfterRestart: string;
  readonly bootAfterRestart: BootResult;
  /** after the app's redefine + SetValue */
  readonly redefined: { readonly uuid: string; readonly ephemeral: boolean; readonly recordInStore: boolean };
  readonly bootAfterRedefine: BootResult;
  readonly rootScan: ScanResult;
  readonly data: GuestData;
}

async function run(ctx: ScenarioContext): Promise<S2Result> {
  const root = join(ctx.workdir, "root");
  const pool = await subdir(ctx, "pool");
  const vault = await subdir(ctx, "app-vault");
  const name = "web.qcow2";
  const data = guestData();
  const uri = embedURI(root);

  let secrets: SecretDriver | undefined = await openSecretDriver({ uri });
  try {
    let vd = await openVolumeDriver({ secrets, pool, ...volumeOptions(ctx) });
    ctx.log(`app: virStorageVolCreateXML ${name} asking for an auto-created EPHEMERAL secret`);
    await vd.createXML(volumeXML(name, "qcow2", "<encryption format='luks'/>"), { generateSecret: "ephemeral" });
    const disk = await diskOf(vd, name);
    const def = parseSecretXML(secrets.lookupByUUID(disk.secretUuid).getXMLDesc());
    ctx.log(`virsecret: secret ${def.uuid} ephemeral=${def.ephemeral ? "yes" : "no"} private=${def.isPrivate ? "yes" : "no"}`);
    const recordBeforeRestart = (await secrets.store.get(SECRET_SPACE, disk.secretUuid)) !== undefined;

    ctx.log("app: virSecretGetValue, saved in its own vault (a 0600 file)");
    const fetched = await secrets.lookupByUUID(disk.secretUuid).getValue();
    const vaultFile = join(vault, `${disk.secretUuid}.passphrase`);
    await writeFile(vaultFile, fetched, { mode: 0o600 });
    await chmod(vaultFile, 0o600);
    fetched.fill(0);

    await installGuest(secrets, disk, data, ctx);
    ctx.log("app: the guest's first run wrote its data");
    const bootBeforeRestart = await bootGuest(secrets, disk, data, ctx);
    ctx.log(`agent boots the guest (key from memory): ${describeBoot(bootBeforeRestart)}`);

    ctx.log("app restarts");
    await secrets.close();
    secrets = undefined;
    secrets = await openSecretDriver({ uri });
    vd = await openVolumeDriver({ secrets, pool, ...volumeOptions(ctx) });
    const s = secrets;
    const look = await outcome(async () => s.lookupByUUID(disk.secretUuid));
    const lookupAfterRestart = look.ok ? "found" : look.code;
    ctx.log(`virsecret after the restart: lookup of ${disk.secretUuid} → ${look.ok ? "found" : `${look.code} (${look.message})`}`);
    const bootAfterRestart = await bootGuest(secrets, disk, data, ctx);
    ctx.log(`agent tries to boot now: ${describeBoot(bootAfterRestart)}`);

    ctx.log(`app: virSecretDefineXML (same uuid, ephemeral, usage volume=${disk.path}) and virSecretSetValue from its vault`);
    const h = await secrets.defineXML(secretXML({ uuid: disk.secretUuid, ephemeral: true, private: false, volume: disk.path }));
    const saved = await readFile(vaultFile);
    await h.setValue(saved);
    const redefinedDef = parseSecretXML(h.getXMLDesc());
    const recordInStore = (await secrets.store.get(SECRET_SPACE, disk.secretUuid)) !== undefined;
    const bootDisk = await diskOf(vd, name);
    const bootAfterRedefine = await bootGuest(secrets, bootDisk, data, ctx);
    ctx.log(`agent boots the guest: ${describeBoot(bootAfterRedefine)}`);

    const vaultMode = (await stat(vaultFile)).mode & 0o777;
    await secrets.close();
    secrets = undefined;
    const rootScan = await scanForPassphrase(ctx, root, saved);
    const result: S2Result = {
      scenario: "s2",
      volume: { name, path: disk.path, secretUuid: disk.secretUuid },
      generated: { ephemeral: def.ephemeral, private: def.isPrivate, usageId: def.usageId ?? "" },
      saved: { mode: vaultMode, length: saved.length },
      recordBeforeRestart,
      bootBeforeRestart,
      lookupAfterRestart,
      bootAfterRestart,
      redefined: { uuid: redefinedDef.uuid, ephemeral: redefinedDef.ephemeral, recordInStore },
      bootAfterRedefine,
      rootScan,
      data,
    };
    saved.fill(0);
    return result;
  } finally {
    await secrets?.close();
  }
}

function verify(r: S2Result): Check[] {
  return [
    check("the generated secret is ephemeral and readable by the app (not private)", r.generated.ephemeral && !r.generated.private),
    check("the generated secret's usage is the volume's path", r.generated.usageId === r.volume.path),
    check("nothing of the ephemeral secret is in the store", !r.recordBeforeRestart && !r.redefined.recordInStore),
    check("the app saved the 64-character passphrase in a 0600 file", r.saved.length === 64 && r.saved.mode === 0o600),
    ...bootChecks("boot before the restart (key from memory)", r.bootBeforeRestart, r.data),
    check("after the restart the secret is gone (NO_SECRET)", r.lookupAfterRestart === "NO_SECRET"),
    check("after the restart the guest cannot boot", !r.bootAfterRestart.opened && (r.bootAfterRestart.error ?? "").startsWith("NO_SECRET")),
    check("the app redefined the same uuid, ephemeral", r.redefined.uuid === r.volume.secretUuid && r.redefined.ephemeral),
    ...bootChecks("boot after redefine + SetValue", r.bootAfterRedefine, r.data),
    scanCheck("the passphrase is nowhere in clear under the root", r.rootScan),
  ];
}

export const s2: Scenario<S2Result> = {
  id: "s2",
  title: "Auto-created secret, no local DB",
  usesKmip: false,
  run,
  verify,
};
