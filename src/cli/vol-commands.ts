// The storage volume commands: virsh 9.0's vol-create, vol-delete, vol-list,
// vol-dumpxml and vol-info (same messages and layouts) over a directory pool,
// plus virsecret's vol-key-check and the generated-secret / keystore options
// of vol-create. Every command takes --pool DIR; without it the pool is
// $VIRSECRET_POOL, else "<root>/pool" inside the connection's root (made on
// first use). Passphrases are never printed: vol-create names the secret by uuid.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Context, KeyManager } from "../keystore/key-manager.js";
import { parseSecretURI } from "../secret/uri.js";
import { openVolumeDriver, type CreateVolumeOptions, type VolumeBackend, type VolumeDriver, type VolumeRef } from "../storage/volume-driver.js";
import { readFileCapped } from "./io.js";
import { callerOf, keystoreOpt, openCommandKeystore, projectOpt, releaseCommandKeystore, userOpt } from "./keystore-options.js";
import { optInt, optString } from "./option-values.js";
import type { OptionDef, ParsedOptions } from "./options.js";
import { errorText, fail, sayExtra } from "./report.js";
import type { Command, CommandContext } from "./secret-commands.js";
import { formatTable } from "./table.js";

/** virsh's cap on an XML file (VSH_MAX_XML_FILE). */
const MAX_XML_FILE = 10 * 1024 * 1024;

const poolOpt: OptionDef = { name: "pool", kind: "string", help: "pool directory (default: $VIRSECRET_POOL, else <root>/pool)" };
const volOpt: OptionDef = { name: "vol", kind: "data", help: "vol name or path" };

/** The pool directory: --pool, else $VIRSECRET_POOL, else <root>/pool (created 0700 when absent). */
async function poolDir(ctx: CommandContext, opts: ParsedOptions): Promise<string | false> {
  const given = optString(ctx, opts, "pool");
  if (given === false) return false;
  if (given !== undefined) return given;
  const env = ctx.io.env ?? process.env;
  const fromEnv = env.VIRSECRET_POOL;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  const dir = join(parseSecretURI(ctx.drv.uri).root, "pool");
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    return fail(ctx, `cannot create the default pool directory '${dir}': ${errorText(e)}`);
  }
  return dir;
}

interface VolSession {
  readonly vd: VolumeDriver;
  readonly keystore?: KeyManager;
  readonly caller?: Context;
}

/**
 * Open the pool (and the keystore when --keystore is given), run `fn`, close
 * the keystore. Failing to open prints `failed to open pool DIR` then why.
 */
async function withPool(
  ctx: CommandContext,
  opts: ParsedOptions,
  fn: (s: VolSession) => Promise<boolean>,
  extra: { iterTimeMs?: number; backend?: VolumeBackend } = {},
): Promise<boolean> {
  const pool = await poolDir(ctx, opts);
  if (pool === false) return false;
  let keystore: KeyManager | undefined;
  let caller: Context | undefined;
  if (opts.has("keystore")) {
    // all three read before stopping: each empty one is reported
    const file = optString(ctx, opts, "keystore");
    const user = optString(ctx, opts, "user");
    const project = optString(ctx, opts, "project");
    if (file === false || file === undefined || user === false || project === false) return false;
    caller = callerOf(user, project);
    const km = await openCommandKeystore(ctx, file);
    if (km === false) return false;
    keystore = km;
  } else if (opts.has("user") || opts.has("project")) {
    return fail(ctx, "--user and --project need --keystore");
  }
  try {
    let vd: VolumeDriver;
    try {
      vd = await openVolumeDriver({
        secrets: ctx.drv,
        pool,
        env: { ...process.env, ...(ctx.io.env ?? {}) },
        ...(keystore ? { keystore } : {}),
        ...(caller ? { keystoreContext: caller } : {}),
        ...(extra.iterTimeMs !== undefined ? { iterTimeMs: extra.iterTimeMs } : {}),
        ...(extra.backend !== undefined ? { backend: extra.backend } : {}),
      });
    } catch (e) {
      fail(ctx, `failed to open pool ${pool}`);
      return fail(ctx, errorText(e));
    }
    return await fn({ vd, ...(keystore ? { keystore } : {}), ...(caller ? { caller } : {}) });
  } finally {
    if (keystore !== undefined) await releaseCommandKeystore(ctx, keystore);
  }
}

/** virshCommandOptVol: a path (anything with '/') or a name in the pool. */
async function lookupVol(ctx: CommandContext, opts: ParsedOptions, vd: VolumeDriver): Promise<VolumeRef | null> {
  const arg = optString(ctx, opts, "vol");
  if (arg === false || arg === undefined) return null;
  try {
    return arg.includes("/") ? await vd.lookupByPath(arg) : await vd.lookupByName(arg);
  } catch (e) {
    fail(ctx, `failed to get vol '${arg}'`);
    fail(ctx, errorText(e));
    return null;
  }
}

/** withPool, then the vol --vol names (a failed lookup has printed why). */
function withVol(ctx: CommandContext, opts: ParsedOptions, fn: (s: VolSession, ref: VolumeRef) => Promise<boolean>): Promise<boolean> {
  return withPool(ctx, opts, async (s) => {
    const ref = await lookupVol(ctx, opts, s.vd);
    if (!ref) return false;
    return fn(s, ref);
  });
}

const volCreate: Command = {
  name: "vol-create",
  summary: "create a vol from an XML file",
  description: "Create a vol.",
  options: [
    { name: "file", kind: "data", help: "file containing an XML vol description" },
    poolOpt,
    { name: "generate-secret", kind: "string", help: "generate the secret of an <encryption> without one: persistent or ephemeral" },
    { name: "private", kind: "bool", help: "make the generated secret private" },
    { name: "key-id", kind: "string", help: "encrypt under a copy of this keystore key (bring your own key)" },
    keystoreOpt,
    userOpt,
    projectOpt,
    { name: "iter-time", kind: "int", help: "LUKS key derivation time in milliseconds (default qemu's 2000)" },
    { name: "backend", kind: "string", help: "who writes the volume: qemu-img (default) or native (LUKS1 and qcow2 written by virsecret)" },
  ],
  needsDriver: true,
  async run(ctx, opts) {
    const file = optString(ctx, opts, "file");
    if (file === false || file === undefined) return false;
    const gen = optString(ctx, opts, "generate-secret");
    if (gen === false) return false;
    if (gen !== undefined && gen !== "persistent" && gen !== "ephemeral") {
      return fail(ctx, `invalid --generate-secret '${gen}': expected persistent or ephemeral`);
    }
    const keyId = optString(ctx, opts, "key-id");
    if (keyId === false) return false;
    if (keyId !== undefined && !opts.has("keystore")) return fail(ctx, "--key-id needs --keystore");
    if (opts.has("private") && gen === undefined && keyId === undefined) {
      return fail(ctx, "--private needs --generate-secret or --key-id");
    }
    const iterTimeMs = optInt(ctx, opts, "iter-time");
    if (iterTimeMs === false) return false;
    const backend = optString(ctx, opts, "backend");
    if (backend === false) return false;
    if (backend !== undefined && backend !== "qemu-img" && backend !== "native") {
      return fail(ctx, `invalid --backend '${backend}': expected qemu-img or native`);
    }
    let xml: string;
    try {
      xml = Buffer.from(await readFileCapped(file, MAX_XML_FILE)).toString("utf8");
    } catch (e) {
      return fail(ctx, errorText(e));
    }
    return withPool(ctx, opts, async ({ vd, caller }) => {
      const createOpts: CreateVolumeOptions = {
        // --key-id alone means a generated (persistent) secret from the clone
        ...(gen !== undefined ? { generateSecret: gen } : keyId !== undefined ? { generateSecret: "persistent" as const } : {}),
        ...(opts.has("private") ? { private: true } : {}),
        ...(keyId !== undefined ? { keyId } : {}),
        ...(caller ? { ctx: caller } : {}),
      };
      try {
        const ref = await vd.createXML(xml, createOpts);
        sayExtra(ctx, `Vol ${ref.name} created from ${file}\n`);
        return true;
      } catch (e) {
        fail(ctx, `Failed to create vol from ${file}`);
        return fail(ctx, errorText(e));
      }
    }, { ...(iterTimeMs !== undefined ? { iterTimeMs } : {}), ...(backend !== undefined ? { backend } : {}) });
  },
};

const volDelete: Command = {
  name: "vol-delete",
  summary: "delete a vol",
  description: "Delete a given vol, with the secret and keystore key it owns.",
  options: [volOpt, poolOpt, keystoreOpt, userOpt, projectOpt],
  needsDriver: true,
  async run(ctx, opts) {
    return withVol(ctx, opts, async ({ vd, caller }, ref) => {
      try {
        await vd.delete(ref.name, caller ? { ctx: caller } : {});
      } catch (e) {
        fail(ctx, `Failed to delete vol ${ref.name}`);
        return fail(ctx, errorText(e));
      }
      sayExtra(ctx, `Vol ${ref.name} deleted\n`);
      return true;
    });
  },
};

const volList: Command = {
  name: "vol-list",
  summary: "list vols",
  description: "Returns list of vols by pool.",
  options: [poolOpt],
  needsDriver: true,
  async run(ctx, opts) {
    return withPool(ctx, opts, async ({ vd }) => {
      let vols: VolumeRef[];
      try {
        vols = await vd.list();
      } catch (e) {
        fail(ctx, "Failed to list storage volumes");
        return fail(ctx, errorText(e));
      }
      ctx.io.stdout(formatTable(ctx.quiet ? null : ["Name", "Path"], vols.map((v) => [v.name, v.path])));
      return true;
    });
  },
};

const volDumpxml: Command = {
  name: "vol-dumpxml",
  summary: "vol information in XML",
  description: "Output the vol information as an XML dump to stdout.",
  options: [volOpt, poolOpt],
  needsDriver: true,
  async run(ctx, opts) {
    return withVol(ctx, opts, async ({ vd }, ref) => {
      try {
        ctx.io.stdout(await vd.getXMLDesc(ref.name));
        return true;
      } catch (e) {
        return fail(ctx, errorText(e));
      }
    });
  },
};

/**
 * vshPrettyCapacity printed with "%.2lf %s": the largest binary unit not
 * above the value, two decimals rounded half to even as glibc's printf does.
 */
export function prettyCapacity(bytes: bigint): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  let i = 0;
  while (i < units.length - 1 && bytes >= 1024n ** BigInt(i + 1)) i++;
  const d = 1024n ** BigInt(i);
  let q = (bytes * 100n) / d;
  const r = (bytes * 100n) % d;
  if (2n * r > d || (2n * r === d && q % 2n === 1n)) q += 1n;
  const frac = (q % 100n).toString().padStart(2, "0");
  return `${q / 100n}.${frac} ${units[i]}`;
}

const volInfo: Command = {
  name: "vol-info",
  summary: "storage vol information",
  description: "Returns basic information about the storage vol.",
  options: [volOpt, poolOpt],
  needsDriver: true,
  async run(ctx, opts) {
    return withVol(ctx, opts, async ({ vd }, ref) => {
      let info;
      try {
        info = await vd.info(ref.name);
      } catch (e) {
        return fail(ctx, errorText(e));
      }
      const line = (label: string, value: string): string => `${label.padEnd(15)} ${value}\n`;
      ctx.io.stdout(
        line("Name:", ref.name) +
          line("Type:", info.type) +
          line("Capacity:", prettyCapacity(info.capacity)) +
          line("Allocation:", prettyCapacity(info.allocation)),
      );
      return true;
    });
  },
};

const volKeyCheck: Command = {
  name: "vol-key-check",
  summary: "check that a vol's secret opens it",
  description: "Open the encrypted vol with its secret (qemu-img check for qcow2, qemu-io for raw LUKS).",
  options: [volOpt, poolOpt],
  needsDriver: true,
  async run(ctx, opts) {
    return withVol(ctx, opts, async ({ vd }, ref) => {
      try {
        const r = await vd.keyCheck(ref.name);
        if (!r.ok) return fail(ctx, `secret ${r.secretUuid} does not open vol ${ref.name}: ${r.reason}`);
        sayExtra(ctx, `Vol ${ref.name} opens with secret ${r.secretUuid}\n`);
        return true;
      } catch (e) {
        fail(ctx, `Failed to check the key of vol ${ref.name}`);
        return fail(ctx, errorText(e));
      }
    });
  },
};

export const VOL_COMMANDS: readonly Command[] = [volCreate, volDelete, volDumpxml, volInfo, volKeyCheck, volList];
