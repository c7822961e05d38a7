// Scenario 8: a cluster of hosts. Two hosts (two virsecret roots, each with
// its own KMIP connection) share one KMIP keystore and one storage pool (as
// over NFS). The same secret uuid is defined on both and bound to one KMIP
// key, so its value is resolved from the keystore on every read and never
// stored. A volume created on host A is opened on host B.
import { join } from "node:path";
import { embedURI, generateUUID, openKeystore, openSecretDriver, openVolumeDriver, type KeyManager, type SecretDriver } from "../src/index.js";
import { withKmipKeystore } from "./kmip.js";
import {
  bootChecks,
  bootGuest,
  check,
  describeBoot,
  diskOf,
  enc,
  guestData,
  hex,
  imageInfo,
  installGuest,
  luksEncryption,
  scanCheck,
  scanTree,
  secretXML,
  subdir,
  volumeOptions,
  valueForms,
  volumeXML,
  type BootResult,
  type Check,
  type GuestData,
  type ImageInfo,
  type Scenario,
  type ScenarioContext,
  type ScanResult,
  type ScenarioResult,
} from "./lib.js";

export interface HostEnd {
  readonly root: string;
  /** the secret's binding as the host shows it */
  readonly boundTo: string | undefined;
  /** the value the host resolves equals lowercase hex of the KMIP key */
  readonly valueIsKeyHex: boolean;
  /** the volume's description on this host names the shared secret uuid */
  readonly volumeSecretUuid: string;
  readonly keyCheckOk: boolean;
  /** files under this root holding the passphrase in clear */
  readonly rootScan: ScanResult;
}

export interface S8Result extends ScenarioResult {
  readonly scenario: "s8";
  readonly keystore: string;
  readonly keyId: string;
  readonly secretUuid: string;
  readonly volume: { readonly path: string; readonly encrypted: boolean; readonly by: ImageInfo["by"] };
  /** host A created the volume; host B booted it */
  readonly hostA: HostEnd;
  readonly hostB: HostEnd;
  readonly bootOnB: BootResult;
  /** host B, restarted, resolves the value from the keystore again */
  readonly bootOnBAfterRestart: BootResult;
  readonly data: GuestData;
}

async function run(ctx: ScenarioContext): Promise<S8Result> {
  const pool = await subdir(ctx, "shared-pool");
  const rootA = join(ctx.workdir, "host-a");
  const rootB = join(ctx.workdir, "host-b");
  const name = "cluster.qcow2";
  const path = join(pool, name);
  const data = guestData();
  return withKmipKeystore(ctx, async ({ peer, km: admin, made }) => {
    const closers: Array<() => Promise<void>> = [];
    try {
      const keyId = made(await admin.createKey(peer.context, { algorithm: "AES", length: 256, name: `s8-${generateUUID()}` }));
      const keyHex = enc(hex((await admin.getKey(peer.context, keyId)).value!));
      ctx.log(`operator: KMIP Create made AES-256 key ${keyId} for the cluster's volume`);

      const uuid = generateUUID();
      const openHost = async (root: string): Promise<{ secrets: SecretDriver; km: KeyManager }> => {
        const km = await openKeystore(peer.config);
        closers.push(() => km.close());
        const secrets = await openSecretDriver({ uri: embedURI(root), keystores: { cluster: km } });
        closers.push(() => secrets.close());
        return { secrets, km };
      };
      const a = await openHost(rootA);
      const b = await openHost(rootB);
      const xml = secretXML({ uuid, ephemeral: false, private: true, volume: path });
      for (const [label, h] of [["A", a], ["B", b]] as const) {
        await h.secrets.defineXML(xml);
        await h.secrets.bindKey(uuid, { keystore: "cluster", keyId, context: peer.context });
        ctx.log(`host ${label}: defined secret ${uuid} (persistent, private, usage volume=${path}) bound to KMIP key ${keyId}`);
      }

      const vdA = await openVolumeDriver({ secrets: a.secrets, pool, ...volumeOptions(ctx) });
      ctx.log(`host A: virStorageVolCreateXML ${name} naming secret ${uuid}`);
      await vdA.createXML(volumeXML(name, "qcow2", luksEncryption(uuid)));
      await installGuest(a.secrets, await diskOf(vdA, name), data, ctx);
      ctx.log("host A: the guest ran there first and wrote its data");

      const vdB = await openVolumeDriver({ secrets: b.secrets, pool, ...volumeOptions(ctx) });
      const diskB = await diskOf(vdB, name);
      ctx.log(`host B: finds ${name} in the shared pool; its description names secret ${diskB.secretUuid} (by usage)`);
      const bootOnB = await bootGuest(b.secrets, diskB, data, ctx);
      ctx.log(`host B boots the guest: ${describeBoot(bootOnB)}`);

      const hostEnd = async (root: string, secrets: SecretDriver, vd: typeof vdA): Promise<Omit<HostEnd, "rootScan">> => {
        const v = await secrets.elevated().getValue(uuid);
        const valueIsKeyHex = Buffer.from(v).equals(Buffer.from(keyHex));
        v.fill(0);
        return {
          root,
          boundTo: secrets.keyBinding(uuid)?.keyId,
          valueIsKeyHex,
          volumeSecretUuid: (await diskOf(vd, name)).secretUuid,
          keyCheckOk: (await vd.keyCheck(name)).ok,
        };
      };
      const endA = await hostEnd(rootA, a.secrets, vdA);
      const endB = await hostEnd(rootB, b.secrets, vdB);
      ctx.log(`both hosts resolve the value from the keystore: A ${endA.valueIsKeyHex ? "= hex of the key" : "≠"}, B ${endB.valueIsKeyHex ? "= hex of the key" : "≠"}`);
      const info = await imageInfo(path, ctx.tools);

      ctx.log("host B restarts (a new driver on its root, its binding reloaded)");
      await b.secrets.close();
      const b2 = await openSecretDriver({ uri: embedURI(rootB), keystores: { cluster: b.km } });
      closers.push(() => b2.close());
      const bootOnBAfterRestart = await bootGuest(b2, diskB, data, ctx);
      ctx.log(`host B boots the guest again: ${describeBoot(bootOnBAfterRestart)}`);
      await b2.close();
      await a.secrets.close();
      const scanA = await scanTree(rootA, valueForms(keyHex));
      const scanB = await scanTree(rootB, valueForms(keyHex));
      ctx.log(`root scans: A ${scanA.files} files / ${scanA.hits.length} with the passphrase, B ${scanB.files} files / ${scanB.hits.length}`);
      keyHex.fill(0);
      return {
        scenario: "s8",
        keystore: peer.kind,
        keyId,
        secretUuid: uuid,
        volume: { path, encrypted: info.encrypted, by: info.by },
        hostA: { ...endA, rootScan: scanA },
        hostB: { ...endB, rootScan: scanB },
        bootOnB,
        bootOnBAfterRestart,
        data,
      };
    } finally {
      for (const c of closers.reverse()) await c().catch(() => undefined);
    }
  });
}

function verify(r: S8Result): Check[] {
  const host = (label: string, h: HostEnd): Check[] => [
    check(`host ${label}: the secret is bound to the KMIP key`, h.boundTo === r.keyId),
    check(`host ${label}: the value resolved is lowercase hex of the KMIP key`, h.valueIsKeyHex),
    check(`host ${label}: the volume's description names the shared uuid`, h.volumeSecretUuid === r.secretUuid),
    check(`host ${label}: virsecret's key check opens the volume`, h.keyCheckOk),
    scanCheck(`host ${label}: the passphrase is nowhere in clear under its root`, h.rootScan),
  ];
  return [
    check("two distinct roots", r.hostA.root !== r.hostB.root),
    check(`the volume is encrypted (${r.volume.by})`, r.volume.encrypted),
    ...host("A", r.hostA),
    ...host("B", r.hostB),
    ...bootChecks("host B opens the volume host A created", r.bootOnB, r.data),
    ...bootChecks("host B after a restart", r.bootOnBAfterRestart, r.data),
  ];
}

export const s8: Scenario<S8Result> = {
  id: "s8",
  title: "A cluster of hosts sharing one KMIP keystore",
  usesKmip: true,
  run,
  verify,
};
