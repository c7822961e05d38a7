// Scenario 7: keys per tenant. Two users share one keystore (a local keystore
// in a root of its own) and one host. Each creates keys and volumes (a
// keystore-generated one and a BYOK one). Neither can read, copy, delete or
// even detect the other's keys: every probe with a foreign key id fails
// exactly as the same probe with a random id.
import { join } from "node:path";
import {
  embedURI,
  generateUUID,
  openLocalKeystore,
  openSecretDriver,
  openVolumeDriver,
  type Context,
  type KeyManager,
  type SecretDriver,
  type VolumeDriver,
} from "../src/index.js";
import {
  bootChecks,
  bootGuest,
  check,
  describeBoot,
  diskOf,
  guestData,
  installGuest,
  listDir,
  subdir,
  volumeOptions,
  volumeXML,
  type BootResult,
  type Check,
  type GuestData,
  type Scenario,
  type ScenarioContext,
  type ScenarioResult,
} from "./lib.js";

interface Tenant {
  readonly name: "alice" | "bob";
  readonly ctx: Context;
  readonly pool: string;
  vd?: VolumeDriver;
  keys: string[];
}

export interface TenantEnd {
  /** the tenant's own key ids: the key it created, the generated volume's key, the BYOK clone */
  readonly keys: string[];
  /** what listKeys shows the tenant */
  readonly listed: string[];
  /** every own key still readable by its owner after the other's probes */
  readonly keysIntact: boolean;
  readonly volumes: string[];
  readonly boots: BootResult[];
}

export interface S7Result extends ScenarioResult {
  readonly scenario: "s7";
  /** distinct outcomes (class/code/message with the id masked) of probes on the other tenant's ids */
  readonly foreignOutcomes: string[];
  /** the same probes on random ids */
  readonly randomOutcomes: string[];
  /** how many probes ran on foreign ids */
  readonly probes: number;
  readonly alice: TenantEnd;
  readonly bob: TenantEnd;
  /** secrets on the host at the end (one per volume: failed probes left none) */
  readonly hostSecrets: number;
  readonly data: GuestData;
}

function masked(e: unknown, id: string): string {
  const x = e as { name?: string; code?: unknown; codeName?: string; message?: string };
  const code = x.codeName ?? (typeof x.code === "string" ? x.code : "?");
  return `${x.name ?? "Error"}/${code}/${(x.message ?? String(e)).split(id).join("<id>")}`;
}

/** Every way a tenant could touch a key id; each outcome masked so ids do not differ. */
async function probe(km: KeyManager, t: Tenant, id: string): Promise<string[]> {
  const attempts: Array<[string, () => Promise<unknown>]> = [
    ["getKey", () => km.getKey(t.ctx, id)],
    ["getKey metadata", () => km.getKey(t.ctx, id, { metadataOnly: true })],
    ["copyKey", () => km.copyKey(t.ctx, id)],
    ["deleteKey", () => km.deleteKey(t.ctx, id)],
    ["create volume with key id", () => t.vd!.createXML(volumeXML("probe.img", "raw", "<encryption format='luks'/>"), { keyId: id })],
  ];
  const out: string[] = [];
  for (const [op, fn] of attempts) {
    try {
      await fn();
      out.push(`${op}: SUCCEEDED`);
    } catch (e) {
      out.push(`${op}: ${masked(e, id)}`);
    }
  }
  return out;
}

async function run(ctx: ScenarioContext): Promise<S7Result> {
  const data = guestData();
  const tenants: Tenant[] = [
    { name: "alice", ctx: { user: "alice", project: "tenant-a" }, pool: await subdir(ctx, "pool-alice"), keys: [] },
    { name: "bob", ctx: { user: "bob", project: "tenant-b" }, pool: await subdir(ctx, "pool-bob"), keys: [] },
  ];
  let km: KeyManager | undefined;
  let secrets: SecretDriver | undefined;
  try {
    km = await openLocalKeystore({ root: join(ctx.workdir, "keystore-root") });
    secrets = await openSecretDriver({ uri: embedURI(join(ctx.workdir, "root")) });
    for (const t of tenants) {
      t.vd = await openVolumeDriver({ secrets, pool: t.pool, keystore: km, keystoreContext: t.ctx, ...volumeOptions(ctx) });
      const own = await km.createKey(t.ctx, { algorithm: "AES", length: 256, name: `${t.name}'s key` });
      await t.vd.createXML(volumeXML(`${t.name}-gen.qcow2`, "qcow2", "<encryption format='luks'/>"), { generateSecret: "persistent", private: true });
      await t.vd.createXML(volumeXML(`${t.name}-byok.img`, "raw", "<encryption format='luks'/>"), { keyId: own, private: true });
      const gen = (await t.vd.record(`${t.name}-gen.qcow2`))!.keyId!;
      const clone = (await t.vd.record(`${t.name}-byok.img`))!.keyId!;
      t.keys = [own, gen, clone];
      ctx.log(`${t.name}: created key ${own}, volume ${t.name}-gen.qcow2 (keystore key ${gen}), volume ${t.name}-byok.img (clone ${clone})`);
      for (const v of [`${t.name}-gen.qcow2`, `${t.name}-byok.img`]) await installGuest(secrets, await diskOf(t.vd, v), data, ctx);
    }

    const foreign = new Set<string>();
    const random = new Set<string>();
    let probes = 0;
    for (const [me, other] of [[tenants[1]!, tenants[0]!], [tenants[0]!, tenants[1]!]] as const) {
      ctx.log(`${me.name} probes ${other.name}'s ${other.keys.length} key ids and ${other.keys.length} random ids: get, get metadata, copy, delete, create a volume`);
      for (const id of other.keys) {
        for (const o of await probe(km, me, id)) foreign.add(o);
        probes += 5;
      }
      for (let i = 0; i < other.keys.length; i++) for (const o of await probe(km, me, generateUUID())) random.add(o);
    }
    for (const o of foreign) ctx.log(`  foreign id → ${o}`);
    for (const o of random) ctx.log(`  random id  → ${o}`);

    const ends: TenantEnd[] = [];
    for (const t of tenants) {
      const listed = (await km.listKeys(t.ctx, { metadataOnly: true })).map((k) => k.id).sort();
      let keysIntact = true;
      for (const id of t.keys) {
        try {
          const k = await km.getKey(t.ctx, id);
          if (!k.value || k.value.length !== 32) keysIntact = false;
          k.value?.fill(0);
        } catch {
          keysIntact = false;
        }
      }
      const volumes = await listDir(t.pool);
      const boots: BootResult[] = [];
      for (const v of volumes) {
        const b = await bootGuest(secrets, await diskOf(t.vd!, v), data, ctx);
        ctx.log(`${t.name} boots ${v}: ${describeBoot(b)}`);
        boots.push(b);
      }
      ctx.log(`${t.name}: listKeys shows ${listed.length} keys; own keys intact: ${keysIntact ? "yes" : "NO"}`);
      ends.push({ keys: [...t.keys].sort(), listed, keysIntact, volumes, boots });
    }
    return {
      scenario: "s7",
      foreignOutcomes: [...foreign].sort(),
      randomOutcomes: [...random].sort(),
      probes,
      alice: ends[0]!,
      bob: ends[1]!,
      hostSecrets: secrets.numOfSecrets(),
      data,
    };
  } finally {
    await secrets?.close();
    await km?.close();
  }
}

function tenantChecks(name: string, t: TenantEnd, data: GuestData): Check[] {
  return [
    check(`${name} lists exactly her/his own three keys`, t.keys.length === 3 && JSON.stringify(t.listed) === JSON.stringify(t.keys)),
    check(`${name}'s keys are all intact after the other's probes`, t.keysIntact),
    check(`${name}'s pool holds exactly her/his two volumes`, t.volumes.length === 2),
    ...t.boots.flatMap((b, i) => bootChecks(`${name} boots ${t.volumes[i]}`, b, data)),
  ];
}

function verify(r: S7Result): Check[] {
  return [
    check(`${r.probes} probes on foreign key ids ran`, r.probes === 30),
    check("no probe on a foreign id succeeded", r.foreignOutcomes.every((o) => !o.includes("SUCCEEDED"))),
    check("a foreign key id gives exactly the errors a random id gives",
      r.foreignOutcomes.length > 0 && JSON.stringify(r.foreignOutcomes) === JSON.stringify(r.randomOutcomes)),
    check("every key-manager probe says KeyNotFound, nothing else", r.foreignOutcomes.filter((o) => !o.startsWith("create volume")).every((o) => o.includes("KeyNotFound/KEY_NOT_FOUND/Key not found, uuid: <id>"))),
    ...tenantChecks("alice", r.alice, r.data),
    ...tenantChecks("bob", r.bob, r.data),
    check("the failed probes left no secret on the host (one per volume)", r.hostSecrets === 4),
  ];
}

export const s7: Scenario<S7Result> = {
  id: "s7",
  title: "Keys per tenant",
  usesKmip: false,
  run,
  verify,
};
