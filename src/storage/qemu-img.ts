// The qemu-img backend: the `qemu-img create` command line libvirt 9.0
// builds for a volume (storage_util.c, checked against libvirt's .argv test
// data), the format rules it applies first, and a runner that copes with
// qemu-img's flaky PBKDF benchmark. The secret reaches qemu-img only as a
// file path (--object secret,file=…), never as a value on the command line.
import { spawn } from "node:child_process";
import { accessSync, constants as fsc } from "node:fs";
import { dirname, join } from "node:path";
import { VirError } from "../errors.js";
import { qemuImgSizeArg } from "./units.js";
import { ENCRYPTION_FORMATS, type SecretLookup, type VolumeDef, type VolumeFormat } from "./volume-def.js";

/** Debian package that ships qemu-img (named in the "not installed" error). */
export const QEMU_IMG_PACKAGE = "qemu-utils";

/** qemu's option escaping: a comma inside a value is written twice. */
export function qemuEscapeComma(value: string): string {
  return value.replace(/,/g, ",,");
}

/** The id of the secret object for a volume, as libvirt names it. */
export function secretAlias(volName: string): string {
  return `${volName}_encrypt0`;
}

/**
 * Step 1 of libvirt's create: an encrypted volume names exactly one secret.
 * Returns that secret's lookup.
 */
export function requireSingleSecret(vol: VolumeDef): SecretLookup {
  const enc = vol.target.encryption;
  if (!enc) throw new VirError("INTERNAL_ERROR", "missing encryption description", "STORAGE");
  if (enc.secrets.length !== 1) {
    throw new VirError(
      "INVALID_ARG",
      "A single <secret type='passphrase'...> element is expected in encryption description",
      "STORAGE",
    );
  }
  return enc.secrets[0]!;
}

/** What the format rules decided: the -f type and the effective image format. */
interface CreatePlan {
  /** the `-f` argument */
  readonly type: string;
  /** the image format after block/iso are treated as raw */
  readonly format: VolumeFormat;
}

/** libvirt's format rules for qemu-img create (spec §5.2 step 2 and the option checks). */
export function checkCreateRules(vol: VolumeDef, opts: { preallocateMetadata?: boolean } = {}): CreatePlan {
  const t = vol.target;
  let format: VolumeFormat = t.format;
  // qemu-img has no "block" or "iso" format: both are written as raw bytes.
  if (vol.type === "block" || format === "iso") format = "raw";
  let type: string = format;

  if (opts.preallocateMetadata && format !== "qcow2") {
    throw new VirError("CONFIG_UNSUPPORTED", "metadata preallocation only available with qcow2", "STORAGE");
  }
  if (t.compat !== undefined && format !== "qcow2") {
    throw new VirError("CONFIG_UNSUPPORTED", "compatibility option only available with qcow2", "STORAGE");
  }
  if (t.features !== undefined && format !== "qcow2") {
    throw new VirError("CONFIG_UNSUPPORTED", "format features only available with qcow2", "STORAGE");
  }

  const enc = t.encryption;
  if (enc) {
    if ((format === "qcow" || format === "qcow2") && (enc.format === "qcow" || enc.format === "default")) {
      throw new VirError("CONFIG_UNSUPPORTED", "creation of qcow2 encrypted image is not supported", "STORAGE");
    }
    if (format === "raw") {
      if (enc.format !== "luks") {
        throw new VirError("INTERNAL_ERROR", "Only luks encryption is supported for raw files", "STORAGE");
      }
      type = "luks";
    }
    if (format === "raw" || format === "qcow2") {
      if (enc.format !== "luks") {
        // libvirt prints the enum number here, not the name
        throw new VirError(
          "CONFIG_UNSUPPORTED",
          `unsupported volume encryption format ${ENCRYPTION_FORMATS.indexOf(enc.format)}`,
          "STORAGE",
        );
      }
      if (enc.secrets.length > 1) throw new VirError("XML_ERROR", "too many secrets for luks encryption", "STORAGE");
      if (enc.secrets.length === 0) throw new VirError("XML_ERROR", "no secret provided for luks encryption", "STORAGE");
    } else {
      throw new VirError("CONFIG_UNSUPPORTED", `volume encryption unsupported with format ${type}`, "STORAGE");
    }
  }

  if (vol.backingStore) {
    if (format === "raw") throw new VirError("INVALID_ARG", "cannot set backing store for raw volume", "STORAGE");
    if (opts.preallocateMetadata) {
      throw new VirError("INVALID_ARG", "metadata preallocation conflicts with backing store", "STORAGE");
    }
  }
  return { type, format };
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: "No such file or directory",
  EACCES: "Permission denied",
  ENOTDIR: "Not a directory",
  ELOOP: "Too many levels of symbolic links",
  EPERM: "Operation not permitted",
};

/** libvirt checks the backing file is readable before handing it to qemu-img. */
function checkBackingReadable(backingPath: string, base: string): void {
  const abs = backingPath.startsWith("/") ? backingPath : join(base, backingPath);
  try {
    accessSync(abs, fsc.R_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "EIO";
    throw new VirError("SYSTEM_ERROR", `inaccessible backing store volume ${backingPath}: ${ERRNO_TEXT[code] ?? code}`, "STORAGE");
  }
}

export interface CreateArgvOptions {
  /** the 0600 file holding the passphrase; required when the volume is encrypted */
  readonly secretPath?: string;
  /** the pool's target path: relative backing paths are resolved against it */
  readonly poolPath?: string;
  /** LUKS PBKDF iteration time in ms; libvirt leaves qemu's 2000 ms default (then omit this) */
  readonly iterTimeMs?: number;
  /** VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA */
  readonly preallocateMetadata?: boolean;
}

/**
 * The argv libvirt runs to create `vol`, starting with "qemu-img".
 * Throws libvirt's VirError for every refused combination.
 */
export function buildCreateArgv(vol: VolumeDef, opts: CreateArgvOptions = {}): string[] {
  const t = vol.target;
  const enc = t.encryption;
  if (enc) requireSingleSecret(vol);
  const plan = checkCreateRules(vol, opts);
  if (t.path === undefined || t.path === "") {
    throw new VirError("INTERNAL_ERROR", `volume '${vol.name}' has no target path`, "STORAGE");
  }
  if (enc && (opts.secretPath === undefined || opts.secretPath === "")) {
    throw new VirError("INTERNAL_ERROR", "missing secret file path for an encrypted volume", "STORAGE");
  }
  if (opts.iterTimeMs !== undefined && (!Number.isSafeInteger(opts.iterTimeMs) || opts.iterTimeMs <= 0)) {
    throw new VirError("INVALID_ARG", `iteration time must be a positive integer of milliseconds, not ${opts.iterTimeMs}`, "STORAGE");
  }
  const backing = vol.backingStore;
  if (backing) checkBackingReadable(backing.path, opts.poolPath ?? dirname(t.path));

  const argv = ["qemu-img", "create", "-f", plan.type];
  if (backing) argv.push("-b", backing.path);

  const o: string[] = [];
  if (backing) o.push(`backing_fmt=${backing.format}`);
  const alias = secretAlias(vol.name);
  if (enc) {
    argv.push("--object", `secret,id=${qemuEscapeComma(alias)},file=${qemuEscapeComma(opts.secretPath!)}`);
    // inside qcow2 the LUKS options live under "encrypt."; a raw LUKS file takes them bare
    const p = plan.format === "qcow2" ? "encrypt." : "";
    if (plan.format === "qcow2") o.push("encrypt.format=luks");
    o.push(`${p}key-secret=${qemuEscapeComma(alias)}`);
    const c = enc.cipher;
    if (c) {
      o.push(`${p}cipher-alg=${qemuEscapeComma(c.name)}-${c.size}`);
      if (c.mode !== undefined) o.push(`${p}cipher-mode=${qemuEscapeComma(c.mode)}`);
      if (c.hash !== undefined) o.push(`${p}hash-alg=${qemuEscapeComma(c.hash)}`);
      const iv = enc.ivgen;
      if (iv) {
        o.push(`${p}ivgen-alg=${qemuEscapeComma(iv.name)}`);
        if (iv.hash !== undefined) o.push(`${p}ivgen-hash-alg=${qemuEscapeComma(iv.hash)}`);
      }
    }
    if (opts.iterTimeMs !== undefined) o.push(`${p}iter-time=${opts.iterTimeMs}`);
  }
  const sizeK = (vol.capacity + 1023n) / 1024n;
  if (opts.preallocateMetadata) {
    // libvirt compares the KiB size with the allocation in bytes; kept as it is
    o.push(sizeK > vol.allocation ? "preallocation=metadata" : "preallocation=falloc");
  }
  if (t.nocow) o.push("nocow=on");
  if (t.compat !== undefined) o.push(`compat=${t.compat}`);
  else if (plan.format === "qcow2") o.push("compat=0.10");
  if (t.clusterSize !== undefined && t.clusterSize > 0n) o.push(`cluster_size=${t.clusterSize}`);
  if (t.features && plan.format === "qcow2") {
    if (t.features.lazyRefcounts) {
      if (t.compat === "0.10") {
        throw new VirError("CONFIG_UNSUPPORTED", `lazy_refcounts not supported with compat level ${t.compat}`, "STORAGE");
      }
      o.push("lazy_refcounts");
    }
    if (t.features.extendedL2) o.push("extended_l2=on");
  }
  if (o.length > 0) argv.push("-o", o.join(","));

  argv.push(t.path);
  // with a backing file and no capacity qemu-img takes the backing file's size
  if (sizeK > 0n || !backing) argv.push(qemuImgSizeArg(vol.capacity));
  return argv;
}

// ---------------------------------------------------------------------------
// Running qemu-img

/** qemu-img's PBKDF benchmark failing on a coarse CPU clock (the whole last stderr line). */
const CPU_USAGE_FAILURE = /^qemu-img: .*: Unable to get accurate CPU usage$/;

/**
 * True exactly when a failed run's stderr is the random PBKDF benchmark
 * failure and nothing else: one error line, ending in that text.
 */
export function isCpuUsageFailure(stderr: string): boolean {
  const lines = stderr.split("\n").map((l) => l.trimEnd()).filter((l) => l !== "");
  return lines.length === 1 && CPU_USAGE_FAILURE.test(lines[0]!);
}

/**
 * The QEMU program to run is not installed (spawn said ENOENT). Its own class
 * so a caller with another way to do the job (the native LUKS reader) falls
 * back on it by type, not by matching the text.
 */
export class QemuToolMissingError extends VirError {
  /** the program that was not found, as given in argv[0] */
  readonly program: string;
  constructor(program: string) {
    super(
      "INTERNAL_ERROR",
      `creation of non-raw file images is not supported without qemu-img. ` +
        `'${program}' was not found on PATH: install the Debian package '${QEMU_IMG_PACKAGE}'`,
      "STORAGE",
    );
    this.program = program;
  }
}

export interface RunQemuImgOptions {
  /** stops the run: the child is killed and awaited before the promise rejects */
  readonly signal?: AbortSignal;
  /** per attempt; the child is killed when it runs longer */
  readonly timeoutMs?: number;
  /** attempts in all when the CPU-usage failure repeats; default 20: 15-50 % of creates fail here, more on a loaded machine, and each failed try is cheap */
  readonly maxTries?: number;
  /** pause between attempts; default 20 ms */
  readonly retryDelayMs?: number;
  /** environment for the child (its PATH finds argv[0]); default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

export interface QemuImgResult {
  readonly stdout: string;
  readonly stderr: string;
  /** how many attempts it took */
  readonly tries: number;
}

const OUTPUT_CAP = 256 * 1024;

interface Attempt {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly stopped?: "timeout" | "abort";
}

function runOnce(argv: readonly string[], opts: RunQemuImgOptions): Promise<Attempt> {
  return new Promise((resolve, reject) => {
    const env = { ...(opts.env ?? process.env), LC_ALL: "C" }; // English messages: the retry test reads them
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let stopped: Attempt["stopped"];
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      if (stdout.length < OUTPUT_CAP) stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      if (stderr.length < OUTPUT_CAP) stderr += d;
    });
    const stop = (why: "timeout" | "abort"): void => {
      if (stopped) return;
      stopped = why;
      child.kill("SIGKILL");
    };
    const onAbort = (): void => stop("abort");
    const cleanup = (): void => {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
    };
    child.on("error", (e: NodeJS.ErrnoException) => {
      cleanup();
      if (e.code === "ENOENT") {
        reject(new QemuToolMissingError(argv[0]!));
      } else {
        reject(new VirError("SYSTEM_ERROR", `cannot execute ${argv[0]}: ${e.code ?? e.message}`, "STORAGE", { cause: e }));
      }
    });
    child.on("exit", () => {
      // a killed child's own children could hold the pipes open; stop reading them
      if (stopped) {
        child.stdout.destroy();
        child.stderr.destroy();
      }
    });
    child.on("close", (code, signal) => {
      cleanup();
      resolve({ code, signal, stdout, stderr, stopped });
    });
    if (opts.timeoutMs !== undefined) timer = setTimeout(() => stop("timeout"), opts.timeoutMs);
    opts.signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Run a qemu-img argv (argv[0] is the program). Retries, bounded, only
 * when qemu-img failed with the PBKDF "Unable to get accurate CPU usage"
 * error; any other failure is a VirError carrying qemu-img's stderr.
 */
export async function runQemuImg(argv: readonly string[], opts: RunQemuImgOptions = {}): Promise<QemuImgResult> {
  if (argv.length === 0) throw new VirError("INTERNAL_ERROR", "empty qemu-img command line", "STORAGE");
  const maxTries = opts.maxTries ?? 20;
  if (!Number.isSafeInteger(maxTries) || maxTries < 1) {
    throw new VirError("INVALID_ARG", `maxTries must be a positive integer, not ${maxTries}`, "STORAGE");
  }
  const cmdline = argv.join(" ");
  for (let tries = 1; ; tries++) {
    if (opts.signal?.aborted) throw new VirError("OPERATION_ABORTED", `${argv[0]} was stopped before it finished`, "STORAGE");
    const r = await runOnce(argv, opts);
    if (r.stopped === "abort") throw new VirError("OPERATION_ABORTED", `${argv[0]} was stopped before it finished`, "STORAGE");
    if (r.stopped === "timeout") {
      throw new VirError("OPERATION_TIMEOUT", `${argv[0]} did not finish within ${opts.timeoutMs} ms and was killed`, "STORAGE");
    }
    if (r.code === 0) return { stdout: r.stdout, stderr: r.stderr, tries };
    const status = r.signal ? `fatal signal ${r.signal}` : `exit status ${r.code}`;
    const err = r.stderr.trimEnd();
    if (r.code !== null && isCpuUsageFailure(r.stderr) && tries < maxTries) {
      await new Promise((res) => setTimeout(res, opts.retryDelayMs ?? 20));
      continue;
    }
    const gaveUp = isCpuUsageFailure(r.stderr) ? ` (gave up after ${tries} tries)` : "";
    throw new VirError("INTERNAL_ERROR", `Child process (${cmdline}) unexpected ${status}${err ? `: ${err}` : ""}${gaveUp}`, "STORAGE");
  }
}
