// Scenario 5: external off-node keystore, creating a volume. The volume's key
// is an AES-256 key in a remote KMIP keystore (passphrase = lowercase hex of
// its bytes, the nova rule). The app defines an ephemeral secret, sets its
// value from the keystore, creates the volume while the secret exists, then
// undefines it. Later the guest starts the same way (define, set from the
// keystore, boot, undefine) and reads what was written.
import { join } from "node:path";
import { embedURI, generateUUID, openSecretDriver, openVolumeDriver, SECRET_SPACE, type SecretDriver } from "../src/index.js";
import { withKmipKeystore } from "./kmip.js";
import {
  bootChecks,
  bootGuest,
  check,
  describeBoot,
  enc,
  guestData,
  hex,
  imageInfo,
  installGuest,
  luksEncryption,
  scanCheck,
  scanForPassphrase,
  secretFromKeystore,
  subdir,
  volumeOptions,
  volumeXML,
  type BootResult,
  type Check,
  type Disk,
  type GuestData,
  type ImageInfo,
  type Scenario,
  type ScenarioContext,
  type ScanResult,
  type ScenarioResult,
} from "./lib.js";

export interface S5Result extends ScenarioResult {
  readonly scenario: "s5";
  readonly keystore: string;
  readonly keyId: string;
  readonly secretUuid: string;
  /** the secret held lowercase hex of the key's bytes */
  readonly valueIsKeyHex: boolean;
  readonly volume: { readonly path: string } & ImageInfo;
  /** the volume record names the secret but does not own it */
  readonly record: { readonly secretUuid?: string; readonly ownsSecret?: boolean; readonly ownsKey?: boolean } | undefined;
  /** after the undefine */
  readonly after: { readonly secretsListed: string[]; readonly recordInStore: boolean };
  readonly rootScan: ScanResult;
  /** the guest started later with the value set from the keystore again */
  readonly laterBoot: BootResult;
  readonly secretsAtEnd: number;
  readonly data: GuestData;
}

async function run(ctx: ScenarioContext): Promise<S5Result> {
  const pool = await subdir(ctx, "pool");
  const root = join(ctx.workdir, "host-root");
  const name = "data.qcow2";
  const path = join(pool, name);
  const data = guestData();
  return withKmipKeystore(ctx, async ({ peer, km, made }) => {
    let secrets: SecretDriver | undefined;
    try {
      const keyId = made(await km.createKey(peer.context, { algorithm: "AES", length: 256, name: `s5-${generateUUID()}` }));
      ctx.log(`operator: KMIP Create made AES-256 key ${keyId} for the volume`);
      const keyHex = enc(hex((await km.getKey(peer.context, keyId)).value!));

      secrets = await openSecretDriver({ uri: embedURI(root) });
      const uuid = generateUUID();
      ctx.log(`app: virSecretDefineXML ${uuid} (ephemeral, private, usage volume=${path}); value set from key ${keyId}`);
      const h = await secretFromKeystore(secrets, km, peer.context, keyId, uuid, path);
      const held = await secrets.elevated().getValue(uuid);
      const valueIsKeyHex = Buffer.from(held).equals(Buffer.from(keyHex));
      held.fill(0);

      const vd = await openVolumeDriver({ secrets, pool, ...volumeOptions(ctx) });
      ctx.log(`app: virStorageVolCreateXML ${name} naming secret ${uuid}`);
      await vd.createXML(volumeXML(name, "qcow2", luksEncryption(uuid)));
      const disk: Disk = { path, format: "qcow2", secretUuid: uuid };
      await installGuest(secrets, disk, data, ctx);
      ctx.log("app: the guest's data is written onto the new volume");
      const rec = await vd.record(name);
      ctx.log(`app: virSecretUndefine ${uuid}`);
      await h.undefine();
      const after = { secretsListed: secrets.listSecrets(100), recordInStore: (await secrets.store.get(SECRET_SPACE, uuid)) !== undefined };
      const info = await imageInfo(path, ctx.tools);
      ctx.log(`host: ${after.secretsListed.length} secrets; ${info.by}: ${info.format}, encrypted=${info.encrypted} (${info.encryptFormat ?? "?"})`);
      await secrets.close();
      secrets = undefined;
      const rootScan = await scanForPassphrase(ctx, root, keyHex, "host root scan");

      ctx.log("later: the app starts the guest the same way (define, set from the keystore, boot, undefine)");
      secrets = await openSecretDriver({ uri: embedURI(root) });
      const again = await secretFromKeystore(secrets, km, peer.context, keyId, uuid, path);
      const laterBoot = await bootGuest(secrets, disk, data, ctx);
      ctx.log(`agent boots the guest: ${describeBoot(laterBoot)}`);
      await again.undefine();
      const secretsAtEnd = secrets.numOfSecrets();
      keyHex.fill(0);
      return {
        scenario: "s5",
        keystore: peer.kind,
        keyId,
        secretUuid: uuid,
        valueIsKeyHex,
        volume: { path, ...info },
        record: rec === undefined ? undefined : {
          ...(rec.secretUuid !== undefined ? { secretUuid: rec.secretUuid } : {}),
          ownsSecret: rec.ownsSecret,
          ...(rec.ownsKey !== undefined ? { ownsKey: rec.ownsKey } : {}),
        },
        after,
        rootScan,
        laterBoot,
        secretsAtEnd,
        data,
      };
    } finally {
      await secrets?.close();
    }
  });
}

function verify(r: S5Result): Check[] {
  return [
    check("the secret's value is lowercase hex of the KMIP key's bytes", r.valueIsKeyHex),
    check(`the volume is a LUKS-encrypted qcow2 (${r.volume.by})`, r.volume.format === "qcow2" && r.volume.encrypted && r.volume.encryptFormat === "luks"),
    check("the volume record names the secret and owns neither secret nor key",
      r.record?.secretUuid === r.secretUuid && r.record.ownsSecret === false && r.record.ownsKey !== true),
    check("after the undefine the host has no secret, in memory or in the store", r.after.secretsListed.length === 0 && !r.after.recordInStore),
    scanCheck("the passphrase is nowhere in clear under the host's root", r.rootScan),
    ...bootChecks("later boot with the value from the keystore", r.laterBoot, r.data),
    check("the host ends with no secret", r.secretsAtEnd === 0),
  ];
}

export const s5: Scenario<S5Result> = {
  id: "s5",
  title: "External off-node keystore (KMIP), creating a volume",
  usesKmip: true,
  run,
  verify,
};
