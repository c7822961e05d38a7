// Scenario 6: bring your own key (cinder spec "byok-for-cinder"). A user
// stores a key in the keystore and creates a volume naming that key id.
// virsecret clones the key (copyKey), encrypts the volume under the clone
// (passphrase = lowercase hex of the key bytes) and records that the volume
// owns the clone. Deleting the volume deletes the clone; the user's original
// key is untouched. The keystore is a local keystore in a root of its own
// (the "key manager service"), so the scenario needs no remote peer.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { embedURI, openLocalKeystore, openSecretDriver, openVolumeDriver, type Context, type KeyManager, type SecretDriver } from "../src/index.js";
import {
  bootChecks,
  bootGuest,
  check,
  describeBoot,
  diskOf,
  guestData,
  hex,
  imageInfo,
  installGuest,
  listDir,
  outcome,
  subdir,
  volumeOptions,
  volumeXML,
  type BootResult,
  type Check,
  type GuestData,
  type ImageInfo,
  type Scenario,
  type ScenarioContext,
  type ScenarioResult,
} from "./lib.js";

const USER: Context = { user: "alice", project: "tenant-a" };

export interface S6Result extends ScenarioResult {
  readonly scenario: "s6";
  readonly originalKeyId: string;
  /** what the volume record says after the create */
  readonly record: { readonly keyId?: string; readonly ownsKey?: boolean; readonly ownsSecret?: boolean; readonly secretUuid?: string } | undefined;
  /** the clone's bytes equal the original's; the passphrase is lowercase hex of them */
  readonly cloneSameBytes: boolean;
  readonly passphraseIsCloneHex: boolean;
  /** qemu-img info (or the native header probe) of the volume file */
  readonly volumeInfo: ImageInfo;
  readonly boot: BootResult;
  /** the user's keys while the volume exists, and after its delete */
  readonly keysWhileVolume: string[];
  readonly afterDelete: {
    readonly volumeFiles: string[];
    readonly secrets: string[];
    /** getKey of the clone: the error code */
    readonly clone: string;
    /** the original still holds the bytes the user stored */
    readonly originalIntact: boolean;
    readonly keys: string[];
  };
  readonly data: GuestData;
}

async function run(ctx: ScenarioContext): Promise<S6Result> {
  const pool = await subdir(ctx, "pool");
  const name = "byok.img";
  const data = guestData();
  let km: KeyManager | undefined;
  let secrets: SecretDriver | undefined;
  try {
    km = await openLocalKeystore({ root: join(ctx.workdir, "keystore-root") });
    const userKey = randomBytes(32);
    const originalKeyId = await km.storeKey(USER, { kind: "symmetric", algorithm: "AES", bitLength: 256, name: "alice's own key", value: userKey });
    ctx.log(`user alice: stored her own AES-256 key in the keystore → ${originalKeyId}`);

    secrets = await openSecretDriver({ uri: embedURI(join(ctx.workdir, "root")) });
    const vd = await openVolumeDriver({ secrets, pool, keystore: km, keystoreContext: USER, ...volumeOptions(ctx) });
    ctx.log(`alice: create volume ${name} (raw LUKS) with encryption key id ${originalKeyId}`);
    await vd.createXML(volumeXML(name, "raw", "<encryption format='luks'/>"), { keyId: originalKeyId, private: true });
    const r = await vd.record(name);
    const record = r === undefined ? undefined : {
      ...(r.keyId !== undefined ? { keyId: r.keyId } : {}),
      ...(r.ownsKey !== undefined ? { ownsKey: r.ownsKey } : {}),
      ownsSecret: r.ownsSecret,
      ...(r.secretUuid !== undefined ? { secretUuid: r.secretUuid } : {}),
    };
    ctx.log(`virsecret: the volume is encrypted under clone ${record?.keyId} (owns key: ${record?.ownsKey}), secret ${record?.secretUuid}`);
    const clone = await km.getKey(USER, record!.keyId!);
    const cloneSameBytes = Buffer.from(clone.value!).equals(userKey);
    const disk = await diskOf(vd, name);
    const pass = await secrets.elevated().getValue(disk.secretUuid);
    const passphraseIsCloneHex = Buffer.from(pass).toString("ascii") === hex(clone.value!);
    pass.fill(0);
    clone.value?.fill(0);
    const volumeInfo = await imageInfo(disk.path, ctx.tools);
    await installGuest(secrets, disk, data, ctx);
    const boot = await bootGuest(secrets, disk, data, ctx);
    ctx.log(`agent boots the guest: ${describeBoot(boot)}`);
    const keysWhileVolume = (await km.listKeys(USER, { metadataOnly: true })).map((k) => k.id).sort();
    ctx.log(`alice's keys now: ${keysWhileVolume.length} (her key and the volume's clone)`);

    ctx.log(`alice: delete volume ${name}`);
    await vd.delete(name);
    const k = km;
    const cloneAfter = await outcome(() => k.getKey(USER, record!.keyId!));
    const orig = await outcome(() => k.getKey(USER, originalKeyId));
    const originalIntact = orig.ok && Buffer.from(orig.value.value ?? []).equals(userKey);
    if (orig.ok) orig.value.value?.fill(0);
    userKey.fill(0);
    const afterDelete = {
      volumeFiles: await listDir(pool),
      secrets: secrets.listSecrets(100),
      clone: cloneAfter.ok ? "still there" : cloneAfter.code,
      originalIntact,
      keys: (await km.listKeys(USER, { metadataOnly: true })).map((x) => x.id).sort(),
    };
    ctx.log(`after the delete: clone → ${afterDelete.clone}; original intact: ${originalIntact ? "yes" : "NO"}; pool files: ${afterDelete.volumeFiles.length}; secrets: ${afterDelete.secrets.length}`);
    return {
      scenario: "s6",
      originalKeyId,
      record,
      cloneSameBytes,
      passphraseIsCloneHex,
      volumeInfo,
      boot,
      keysWhileVolume,
      afterDelete,
      data,
    };
  } finally {
    await secrets?.close();
    await km?.close();
  }
}

function verify(r: S6Result): Check[] {
  const cloneId = r.record?.keyId;
  return [
    check("the volume is encrypted under a clone, not the user's key", cloneId !== undefined && cloneId !== r.originalKeyId),
    check("the volume record owns the clone and its generated secret", r.record?.ownsKey === true && r.record.ownsSecret === true),
    check("the clone holds the same key bytes as the original", r.cloneSameBytes),
    check("the passphrase is lowercase hex of the clone's bytes", r.passphraseIsCloneHex),
    check(`${r.volumeInfo.by} reports the volume LUKS-encrypted`, r.volumeInfo.encrypted && r.volumeInfo.encryptFormat === "luks"),
    ...bootChecks("boot", r.boot, r.data),
    check("while the volume exists the user has her key and the clone",
      r.keysWhileVolume.length === 2 && r.keysWhileVolume.includes(r.originalKeyId) && cloneId !== undefined && r.keysWhileVolume.includes(cloneId)),
    check("after the delete the clone is gone (KEY_NOT_FOUND)", r.afterDelete.clone === "KEY_NOT_FOUND"),
    check("after the delete the original key is untouched", r.afterDelete.originalIntact && r.afterDelete.keys.length === 1 && r.afterDelete.keys[0] === r.originalKeyId),
    check("after the delete no volume file and no secret remain", r.afterDelete.volumeFiles.length === 0 && r.afterDelete.secrets.length === 0),
  ];
}

export const s6: Scenario<S6Result> = {
  id: "s6",
  title: "Bring your own key (cinder byok-for-cinder)",
  usesKmip: false,
  run,
  verify,
};
