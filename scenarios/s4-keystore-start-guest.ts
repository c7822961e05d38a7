// Scenario 4: external off-node keystore, starting a guest. The passphrase
// lives in a remote KMIP keystore. The app defines an ephemeral secret for
// the VM, sets its value from the keystore (GetKey, then SetValue), boots a
// transient guest, then undefines the secret: nothing stays on the host.
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { embedURI, generateUUID, openSecretDriver, openVolumeDriver, SECRET_SPACE, type SecretDriver } from "../src/index.js";
import { withKmipKeystore, type KmipSession } from "./kmip.js";
import {
  bootChecks,
  bootGuest,
  check,
  describeBoot,
  enc,
  guestData,
  installGuest,
  luksEncryption,
  outcome,
  scanCheck,
  scanTree,
  secretFromKeystore,
  subdir,
  volumeOptions,
  valueForms,
  volumeXML,
  type BootResult,
  type Check,
  type Disk,
  type GuestData,
  type Scenario,
  type ScenarioContext,
  type ScanResult,
  type ScenarioResult,
} from "./lib.js";

export interface S4Result extends ScenarioResult {
  readonly scenario: "s4";
  readonly keystore: string;
  readonly keyId: string;
  readonly secretUuid: string;
  /** what the secret held was what the keystore holds (compared by the harness, not printed) */
  readonly valueFromKeystore: boolean;
  readonly boot: BootResult;
  /** after the undefine */
  readonly after: {
    readonly secretsListed: string[];
    readonly lookup: string;
    readonly recordInStore: boolean;
    /** after yet another restart of the app */
    readonly secretsAfterRestart: number;
  };
  /** files under the host's root holding the passphrase or the secret's uuid */
  readonly rootScan: ScanResult;
  /** the keystore still holds the passphrase: the host gave it back, the keystore keeps it */
  readonly keystoreStillHasKey: boolean;
  readonly data: GuestData;
}

/** Earlier and elsewhere: a volume whose passphrase is the keystore's (made on a provisioning root, then removed). */
async function provision(ctx: ScenarioContext, kmip: KmipSession, keyId: string, pool: string, name: string, data: GuestData): Promise<Disk> {
  const root = join(ctx.workdir, "provisioner-root");
  const secrets = await openSecretDriver({ uri: embedURI(root) });
  try {
    const uuid = generateUUID();
    const h = await secretFromKeystore(secrets, kmip.km, kmip.peer.context, keyId, uuid);
    const vd = await openVolumeDriver({ secrets, pool, ...volumeOptions(ctx) });
    const ref = await vd.createXML(volumeXML(name, "qcow2", luksEncryption(uuid)));
    const disk: Disk = { path: ref.path, format: "qcow2", secretUuid: uuid };
    await installGuest(secrets, disk, data, ctx);
    await h.undefine();
    return disk;
  } finally {
    await secrets.close();
    await rm(root, { recursive: true, force: true });
  }
}

async function run(ctx: ScenarioContext): Promise<S4Result> {
  const pool = await subdir(ctx, "pool");
  const root = join(ctx.workdir, "host-root");
  const name = "guest.qcow2";
  const data = guestData();
  return withKmipKeystore(ctx, async (kmip) => {
    const { peer, km } = kmip;
    let secrets: SecretDriver | undefined;
    try {
      const passphrase = enc(randomBytes(24).toString("base64"));
      const keyId = kmip.made(await km.storeKey(peer.context, { kind: "passphrase", name: `s4-${generateUUID()}`, value: passphrase }));
      ctx.log(`operator: the VM's passphrase is KMIP object ${keyId} (secret data)`);
      const prov = await provision(ctx, kmip, keyId, pool, name, data);
      ctx.log(`earlier, on a provisioning host: ${prov.path} was created under that passphrase and the guest wrote its data`);

      secrets = await openSecretDriver({ uri: embedURI(root) });
      const uuid = generateUUID();
      ctx.log(`app: virSecretDefineXML ${uuid} ephemeral='yes' private='yes' usage volume=${prov.path}`);
      ctx.log(`app: GetKey ${keyId} from the keystore, virSecretSetValue with it`);
      const h = await secretFromKeystore(secrets, km, peer.context, keyId, uuid, prov.path);
      const held = await secrets.elevated().getValue(uuid);
      const valueFromKeystore = Buffer.from(held).equals(Buffer.from(passphrase));
      held.fill(0);

      const boot = await bootGuest(secrets, { ...prov, secretUuid: uuid }, data, ctx);
      ctx.log(`app: transient guest started; ${describeBoot(boot)}`);
      ctx.log(`app: virSecretUndefine ${uuid}`);
      await h.undefine();

      const s = secrets;
      const look = await outcome(async () => s.lookupByUUID(uuid));
      const after = {
        secretsListed: secrets.listSecrets(100),
        lookup: look.ok ? "found" : look.code,
        recordInStore: (await secrets.store.get(SECRET_SPACE, uuid)) !== undefined,
        secretsAfterRestart: -1,
      };
      ctx.log(`host after the undefine: ${after.secretsListed.length} secrets, lookup → ${after.lookup}`);
      await secrets.close();
      secrets = undefined;
      secrets = await openSecretDriver({ uri: embedURI(root) });
      after.secretsAfterRestart = secrets.numOfSecrets();
      await secrets.close();
      secrets = undefined;
      const rootScan = await scanTree(root, [...valueForms(passphrase), enc(uuid)]);
      ctx.log(`host root scan: ${rootScan.files} files, passphrase or uuid found in ${rootScan.hits.length}`);
      const still = await outcome(() => km.getKey(peer.context, keyId));
      const keystoreStillHasKey = still.ok && Buffer.from(still.value.value ?? []).equals(Buffer.from(passphrase));
      if (still.ok) still.value.value?.fill(0);
      ctx.log(`keystore still holds ${keyId}: ${keystoreStillHasKey ? "yes" : "no"}`);
      passphrase.fill(0);
      return {
        scenario: "s4",
        keystore: peer.kind,
        keyId,
        secretUuid: uuid,
        valueFromKeystore,
        boot,
        after,
        rootScan,
        keystoreStillHasKey,
        data,
      };
    } finally {
      await secrets?.close();
    }
  });
}

function verify(r: S4Result): Check[] {
  return [
    check("the secret's value is the keystore's passphrase", r.valueFromKeystore),
    ...bootChecks("transient guest", r.boot, r.data),
    check("the agent read the private secret through the elevated handle", r.boot.secretRead === "elevated"),
    check("after the undefine the host lists no secret and the uuid is unknown",
      r.after.secretsListed.length === 0 && r.after.lookup === "NO_SECRET" && !r.after.recordInStore),
    check("after another restart the host still has no secret", r.after.secretsAfterRestart === 0),
    scanCheck("neither the passphrase nor the secret's uuid is anywhere under the host's root", r.rootScan),
    check("the keystore still holds the passphrase", r.keystoreStillHasKey),
  ];
}

export const s4: Scenario<S4Result> = {
  id: "s4",
  title: "External off-node keystore (KMIP), starting a guest",
  usesKmip: true,
  run,
  verify,
};
