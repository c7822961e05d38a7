// Shared pieces of the end-to-end scenarios: what a scenario is, the checks
// its verdict is made of, the tooling choice and its preflight, volume XML,
// byte scans of a secret root, and "the agent boots the guest" with real
// qemu-io or, where QEMU is absent, virsecret's native LUKS reader.
import { execFile } from "node:child_process";
import { randomInt } from "node:crypto";
import { mkdir, open, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { KmipChoice } from "./kmip.js";
import {
  isVirError,
  parseSecretXML,
  parseVolumeXML,
  passphraseFromKey,
  type Context,
  type KeyManager,
  type SecretDriver,
  type SecretHandle,
  type VolumeDriver,
} from "../src/index.js";
import { openNativeVolume, type NativeVolume } from "../src/storage/luks/native-backend.js";
import { probeImageHeader, PROBE_BYTES } from "../src/storage/pool.js";
import { QEMU_IMG_PACKAGE } from "../src/storage/qemu-img.js";
import { withSecretFile } from "../src/storage/secret-file.js";

const execFileP = promisify(execFile);

export type ScenarioId = "s1" | "s2" | "s3" | "s4" | "s5" | "s6" | "s7" | "s8";

export interface ScenarioContext {
  /** prints one step of the story (the script prefixes "[sN] ") */
  readonly log: (step: string) => void;
  /** an empty directory the scenario owns; the runner removes it afterwards */
  readonly workdir: string;
  /** which KMIP server scenarios 4, 5 and 8 talk to; default "auto" */
  readonly kmip?: KmipChoice;
  /** where the 0600 secret files for qemu-img/qemu-io are made (under workdir); the runner checks it is empty afterwards */
  readonly secretFiles: string;
  /** who makes and opens the volumes in this run (resolved: never "auto") */
  readonly tools: Tooling;
}

/** Every result names its scenario; the rest is the scenario's own end state. */
export interface ScenarioResult {
  readonly scenario: ScenarioId;
}

/** What the runner adds to every end state. */
export interface HarnessEnd {
  /** files left in ScenarioContext.secretFiles once the run is over */
  readonly secretFilesLeft: readonly string[];
}

/** One claim of a scenario's verdict, judged on the returned end state. */
export interface Check {
  readonly claim: string;
  readonly ok: boolean;
}

export interface Scenario<R extends ScenarioResult = ScenarioResult> {
  readonly id: ScenarioId;
  readonly title: string;
  /** does the scenario talk to a KMIP server (needs openssl when it starts ours) */
  readonly usesKmip: boolean;
  run(ctx: ScenarioContext): Promise<R>;
  verify(result: R): Check[];
}

export function check(claim: string, ok: boolean): Check {
  return { claim, ok };
}

/** The claims every scenario makes, judged by the runner after the scenario's own verify(). */
export function commonChecks(r: HarnessEnd): Check[] {
  return [check("no secret file left behind", r.secretFilesLeft.length === 0)];
}

// ---- preflight: the real tools, never a fake boot ----

/** A program the scenarios need is missing; the message names the Debian package. */
export class MissingToolError extends Error {
  constructor(
    readonly program: string,
    readonly debianPackage: string,
  ) {
    super(`${program} was not found on PATH: install the Debian package '${debianPackage}' (apt-get install ${debianPackage})`);
    this.name = "MissingToolError";
  }
}

async function requireProgram(program: string, args: string[], pkg: string): Promise<void> {
  try {
    await execFileP(program, args, { timeout: 20_000 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new MissingToolError(program, pkg);
    throw e;
  }
}

/** qemu-img and qemu-io (Debian: qemu-utils) must be there: a boot is real or it is not done. */
export async function requireQemuTools(): Promise<void> {
  await requireProgram("qemu-img", ["--version"], QEMU_IMG_PACKAGE);
  await requireProgram("qemu-io", ["--version"], QEMU_IMG_PACKAGE);
}

/** openssl makes the throwaway certificates of our own KMIP server. */
export async function requireOpenssl(): Promise<void> {
  await requireProgram("openssl", ["version"], "openssl");
}

// ---- tooling: QEMU's programs, or virsecret's native LUKS code where QEMU is absent ----

/**
 * "qemu": volumes made by qemu-img (volume driver backend 'qemu-img'), guests
 * written and read by qemu-io. "native": volumes made by the volume driver's
 * native backend, guests written and read by openNativeVolume. Both are real
 * LUKS1 on disk; the spec allows the native reader where QEMU is absent.
 */
export type Tooling = "qemu" | "native";
/** what a run asks for: "auto" = qemu when qemu-img and qemu-io are on PATH, else native */
export type ToolsChoice = "auto" | Tooling;

export function parseToolsChoice(s: string | undefined): ToolsChoice {
  if (s === undefined || s === "" || s === "auto") return "auto";
  if (s === "qemu" || s === "native") return s;
  throw new Error(`unknown tooling '${s.slice(0, 32)}': use auto, qemu or native`);
}

/** Is `program` on PATH (it ran)? */
async function onPath(program: string, args: string[]): Promise<boolean> {
  try {
    await requireProgram(program, args, "");
    return true;
  } catch (e) {
    if (e instanceof MissingToolError) return false;
    throw e;
  }
}

/** The tooling of a run, and why (for the first line the script prints). */
export interface ResolvedTools {
  readonly tools: Tooling;
  readonly why: string;
}

/**
 * Settle a run's tooling. Forced "qemu" without qemu-img/qemu-io throws
 * MissingToolError naming qemu-utils (a forced QEMU boot is never faked).
 */
export async function resolveTools(choice: ToolsChoice): Promise<ResolvedTools> {
  if (choice === "native") return { tools: "native", why: "--tools=native" };
  if (choice === "qemu") {
    await requireQemuTools();
    return { tools: "qemu", why: "--tools=qemu" };
  }
  const missing: string[] = [];
  for (const p of ["qemu-img", "qemu-io"]) if (!(await onPath(p, ["--version"]))) missing.push(p);
  if (missing.length === 0) return { tools: "qemu", why: "--tools=auto: qemu-img and qemu-io are on PATH" };
  return { tools: "native", why: `--tools=auto: ${missing.join(" and ")} not on PATH (Debian package '${QEMU_IMG_PACKAGE}')` };
}

/** The program that opens a guest's disk, as the step log and the checks name it. */
export function readerName(t: Tooling): string {
  return t === "qemu" ? "qemu-io" : "native LUKS reader";
}

/** One line on what makes and opens the volumes. */
export function describeTooling(t: Tooling): string {
  return t === "qemu"
    ? "QEMU: volumes created by qemu-img (volume driver backend 'qemu-img'), guests written and booted with qemu-io"
    : "native: volumes created by the volume driver's native backend, guests written and booted with virsecret's native LUKS reader (no QEMU)";
}

/** The volume driver options every scenario uses: quick key slots, the run's secret-file dir, the run's backend. */
export function volumeOptions(io: GuestIO): { iterTimeMs: number; secretFileDir: string; backend: "qemu-img" | "native" } {
  return { iterTimeMs: 10, secretFileDir: io.secretFiles, backend: io.tools === "qemu" ? "qemu-img" : "native" };
}

// ---- small helpers ----

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** A directory under the scenario's workdir (created). */
export async function subdir(ctx: ScenarioContext, name: string): Promise<string> {
  const d = join(ctx.workdir, name);
  await mkdir(d, { recursive: true, mode: 0o700 });
  return d;
}

/** A dir-pool volume description; `encryption` is the <encryption> element, if any. */
export function volumeXML(name: string, format: "raw" | "qcow2", encryption: string, capacityMiB = 16): string {
  return `<volume><name>${name}</name><capacity unit='MiB'>${capacityMiB}</capacity>` +
    `<target><format type='${format}'/>${encryption}</target></volume>`;
}

/** `<encryption format='luks'>` naming a secret the app defined (virsecret generates none). */
export function luksEncryption(secretUuid: string): string {
  return `<encryption format='luks'><secret type='passphrase' uuid='${secretUuid}'/></encryption>`;
}

/** A secret description as the apps of the scenarios write it; `volume`, when given, is its usage. */
export function secretXML(o: { uuid: string; ephemeral: boolean; private: boolean; volume?: string; description?: string }): string {
  const yn = (b: boolean): string => (b ? "yes" : "no");
  return `<secret ephemeral='${yn(o.ephemeral)}' private='${yn(o.private)}'><uuid>${o.uuid}</uuid>` +
    (o.description !== undefined ? `<description>${o.description}</description>` : "") +
    (o.volume !== undefined ? `<usage type='volume'><volume>${o.volume}</volume></usage>` : "") +
    "</secret>";
}

/**
 * Define the VM's ephemeral private secret (usage `volume`, when given) and
 * set its value from keystore key `keyId` (passphraseFromKey: the nova rule).
 */
export async function secretFromKeystore(
  secrets: SecretDriver, km: KeyManager, kctx: Context, keyId: string, uuid: string, volume?: string,
): Promise<SecretHandle> {
  const h = await secrets.defineXML(secretXML({ uuid, ephemeral: true, private: true, ...(volume !== undefined ? { volume } : {}) }));
  const key = await km.getKey(kctx, keyId);
  const pass = passphraseFromKey(key);
  try {
    await h.setValue(pass);
  } finally {
    pass.fill(0);
    key.value?.fill(0);
  }
  return h;
}

/** The libvirt-style error code of a rejection (VirError code, key-manager code, or the class name). */
export function errorCode(e: unknown): string {
  if (isVirError(e)) return e.codeName;
  const c = (e as { code?: unknown })?.code;
  if (typeof c === "string") return c;
  return e instanceof Error ? e.name : "unknown";
}

/** Run `fn`; the outcome as data (a scenario returns failures as end state, not as throws). */
export async function outcome<T>(fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; code: string; message: string }> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    return { ok: false, code: errorCode(e), message: e instanceof Error ? e.message : String(e) };
  }
}

// ---- byte scans of a root ----

export interface ScanResult {
  /** files looked at (a scan of an empty tree must not pass silently) */
  readonly files: number;
  /** paths, relative to the scanned dir, whose bytes contain a needle */
  readonly hits: string[];
}

/** Every file under `dir` whose bytes contain any of `needles`. */
export async function scanTree(dir: string, needles: readonly Uint8Array[]): Promise<ScanResult> {
  const hits: string[] = [];
  let files = 0;
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const ent of await readdir(d, { withFileTypes: true })) {
      const p = join(d, ent.name);
      const r = rel === "" ? ent.name : `${rel}/${ent.name}`;
      if (ent.isDirectory()) await walk(p, r);
      else if (ent.isFile()) {
        files++;
        const bytes = await readFile(p);
        if (needles.some((n) => n.length > 0 && bytes.indexOf(Buffer.from(n)) >= 0)) hits.push(r);
      }
    }
  };
  await walk(dir, "");
  return { files, hits };
}

/** A scan passes only when it read files and found no needle: a scan of an empty tree must not pass. */
export function scanCheck(claim: string, scan: ScanResult): Check {
  return check(claim, scan.files > 0 && scan.hits.length === 0);
}

/** Scan `root` for `passphrase` (raw, base64, hex) and log what was found; `label` names the root in the log. */
export async function scanForPassphrase(ctx: ScenarioContext, root: string, passphrase: Uint8Array, label = "root scan"): Promise<ScanResult> {
  const scan = await scanTree(root, valueForms(passphrase));
  ctx.log(`${label}: ${scan.files} files, passphrase in clear in ${scan.hits.length}`);
  return scan;
}

/** A value as it could sit in a file: raw, base64, hex. */
export function valueForms(value: Uint8Array): Uint8Array[] {
  const b = Buffer.from(value);
  return [new Uint8Array(b), enc(b.toString("base64")), enc(b.toString("hex"))];
}

export async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

// ---- the guest: data written after creation, read back at boot ----

/** How a guest's disk is opened: the run's tooling and where qemu-io's secret files go. */
export type GuestIO = Pick<ScenarioContext, "tools" | "secretFiles">;

/** A disk of a guest: the volume file and the secret its <encryption> names. */
export interface Disk {
  readonly path: string;
  readonly format: "raw" | "qcow2";
  readonly secretUuid: string;
}

/** What the guest writes: a few regions, each filled with one byte (chosen per run). */
export interface GuestData {
  readonly regions: ReadonlyArray<{ readonly offset: number; readonly length: number; readonly byte: number }>;
}

/** Run-length summary of bytes read: [[byte, count], ...]. */
export type ByteRuns = Array<[number, number]>;

export interface BootResult {
  /** who opened the volume: qemu-io, or the native LUKS reader */
  readonly tool: Tooling;
  /** the reader opened the volume and every read completed */
  readonly opened: boolean;
  /** how the agent read the secret: through the elevated handle (private) or plain GetValue */
  readonly secretRead?: "elevated" | "plain";
  /** per region, the bytes the reader returned */
  readonly read: ReadonlyArray<{ readonly offset: number; readonly runs: ByteRuns }>;
  /** every region read back exactly what was written */
  readonly dataMatches: boolean;
  /** why the boot failed (libvirt error code, qemu-io's or the native reader's complaint) */
  readonly error?: string;
}

/** Random, distinct fill bytes, so no run can pass on a hard-coded pattern. */
export function guestData(): GuestData {
  const a = randomInt(1, 255);
  let b = randomInt(1, 255);
  if (b === a) b = (a % 254) + 1;
  return { regions: [{ offset: 0, length: 4096, byte: a }, { offset: 1024 * 1024, length: 4096, byte: b }] };
}

/** The disk of volume `name` as its description shows it (format, path, the secret's uuid). */
export async function diskOf(vd: VolumeDriver, name: string): Promise<Disk> {
  const def = parseVolumeXML(await vd.getXMLDesc(name));
  const sec = def.target.encryption?.secrets[0];
  if (sec === undefined || sec.type !== "uuid") throw new Error(`volume ${name} names no secret uuid in its description`);
  if (def.target.format !== "raw" && def.target.format !== "qcow2") throw new Error(`volume ${name} is ${def.target.format}, not raw or qcow2`);
  return { path: def.target.path!, format: def.target.format, secretUuid: sec.uuid };
}

/** The agent resolves the disk's secret: elevated where the secret is private, else plain GetValue. */
async function resolveSecret(secrets: SecretDriver, uuid: string): Promise<{ value: Uint8Array; how: "elevated" | "plain" }> {
  const h = secrets.lookupByUUID(uuid);
  const def = parseSecretXML(h.getXMLDesc());
  if (def.isPrivate) return { value: await secrets.elevated().getValue(uuid), how: "elevated" };
  return { value: await h.getValue(), how: "plain" };
}

function imageOpts(disk: Disk, secretPath: string): string[] {
  const opts = disk.format === "qcow2"
    ? `driver=qcow2,file.filename=${disk.path},encrypt.key-secret=sec0`
    : `driver=luks,file.filename=${disk.path},key-secret=sec0`;
  return ["--object", `secret,id=sec0,format=raw,file=${secretPath}`, "--image-opts", opts];
}

async function qemuIo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await execFileP("qemu-io", args, { env: { ...process.env, LC_ALL: "C" }, maxBuffer: 16 * 1024 * 1024, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: unknown; stdout?: string; stderr?: string };
    if (x.code === "ENOENT") throw new MissingToolError("qemu-io", QEMU_IMG_PACKAGE);
    return { code: typeof x.code === "number" ? x.code : -1, stdout: x.stdout ?? "", stderr: x.stderr ?? "" };
  }
}

/** qemu-io's complaint without paths of secret files. */
function toolError(r: { stdout: string; stderr: string }): string {
  const text = (r.stderr.trim() || r.stdout.trim()).split("\n")[0] ?? "";
  return text.replace(/file=[^,\s]+/g, "file=…").slice(0, 300);
}

/** Parse `read -v` hex dumps ("00000000:  5a 5a …  ZZ…") into bytes per region, in order. */
function parseDumps(stdout: string, regions: GuestData["regions"]): Uint8Array[] {
  const out: Uint8Array[] = [];
  const lines = stdout.split("\n");
  let i = 0;
  for (const r of regions) {
    const bytes: number[] = [];
    for (; i < lines.length && bytes.length < r.length; i++) {
      const m = /^([0-9a-f]{8}):\s+((?:[0-9a-f]{2} ){1,16})/.exec(lines[i]!);
      if (!m) continue;
      for (const h of m[2]!.trim().split(" ")) bytes.push(parseInt(h, 16));
    }
    out.push(Uint8Array.from(bytes));
  }
  return out;
}

function runsOf(bytes: Uint8Array): ByteRuns {
  const runs: ByteRuns = [];
  for (const b of bytes) {
    const last = runs[runs.length - 1];
    if (last && last[0] === b) last[1]++;
    else runs.push([b, 1]);
  }
  return runs;
}

/** "0x5a×4096" */
export function formatRuns(runs: ByteRuns): string {
  if (runs.length === 0) return "nothing";
  const shown = runs.slice(0, 4).map(([b, n]) => `0x${b.toString(16).padStart(2, "0")}×${n}`).join(" ");
  return runs.length > 4 ? `${shown} …(${runs.length} runs)` : shown;
}

/** What a boot read, judged against what the guest wrote. */
function judgeReads(tool: Tooling, how: "elevated" | "plain", data: GuestData, dumps: Uint8Array[]): BootResult {
  const read = data.regions.map((reg, i) => ({ offset: reg.offset, runs: runsOf(dumps[i]!) }));
  const dataMatches = data.regions.every((reg, i) => {
    const runs = read[i]!.runs;
    return runs.length === 1 && runs[0]![0] === reg.byte && runs[0]![1] === reg.length;
  });
  return { tool, opened: true, secretRead: how, read, dataMatches };
}

/** The native reader's complaint: a VirError's message (it never holds the passphrase). */
function nativeError(e: unknown): string {
  const text = isVirError(e) ? `${e.codeName}: ${e.message}` : e instanceof Error ? e.message : String(e);
  return text.slice(0, 300);
}

/**
 * Open `disk` natively with `passphrase`, as qemu-io with driver=qcow2 or
 * driver=luks would: a file of the other format is refused, not guessed.
 */
async function openNativeDisk(disk: Disk, passphrase: Uint8Array, readOnly: boolean): Promise<NativeVolume> {
  const v = await openNativeVolume(disk.path, passphrase, { readOnly });
  if (v.format !== disk.format || !v.encrypted) {
    await v.close();
    throw new Error(`'${disk.path}' is ${v.encrypted ? "" : "unencrypted "}${v.format}, not the LUKS ${disk.format} its description names`);
  }
  return v;
}

/**
 * The guest's first run writes its data (the app installs it after creating
 * the volume). The secret is resolved through the driver like at boot.
 */
export async function installGuest(secrets: SecretDriver, disk: Disk, data: GuestData, io: GuestIO): Promise<void> {
  const { value } = await resolveSecret(secrets, disk.secretUuid);
  try {
    if (io.tools === "native") {
      let v: NativeVolume;
      try {
        v = await openNativeDisk(disk, value, false);
      } catch (e) {
        throw new Error(`the native LUKS writer could not open the volume: ${nativeError(e)}`);
      }
      try {
        for (const r of data.regions) await v.write(r.offset, Buffer.alloc(r.length, r.byte));
        await v.flush();
      } finally {
        await v.close();
      }
      return;
    }
    await withSecretFile(value, async (file) => {
      const cmds = data.regions.flatMap((r) => ["-c", `write -P 0x${r.byte.toString(16)} ${r.offset} ${r.length}`]);
      const r = await qemuIo([...imageOpts(disk, file), ...cmds]);
      if (r.code !== 0 || /error|failed/i.test(r.stdout)) throw new Error(`qemu-io could not write the guest data: ${toolError(r)}`);
    }, { dir: io.secretFiles, name: "install" });
  } finally {
    value.fill(0);
  }
}

/** Read the guest's regions with qemu-io (secret in a 0600 file). */
async function bootWithQemuIo(disk: Disk, data: GuestData, value: Uint8Array, how: "elevated" | "plain", dir: string): Promise<BootResult> {
  return withSecretFile(value, async (file) => {
    const cmds = data.regions.flatMap((r) => ["-c", `read -v ${r.offset} ${r.length}`]);
    const r = await qemuIo(["-r", ...imageOpts(disk, file), ...cmds]);
    const done = data.regions.every((reg) => r.stdout.includes(`read ${reg.length}/${reg.length} bytes at offset ${reg.offset}`));
    if (r.code !== 0 || !done) return { tool: "qemu", opened: false, secretRead: how, read: [], dataMatches: false, error: toolError(r) };
    return judgeReads("qemu", how, data, parseDumps(r.stdout, data.regions));
  }, { dir, name: "boot" });
}

/** Read the guest's regions with the native reader (read-only; the passphrase stays in memory). */
async function bootNatively(disk: Disk, data: GuestData, value: Uint8Array, how: "elevated" | "plain"): Promise<BootResult> {
  let v: NativeVolume;
  try {
    v = await openNativeDisk(disk, value, true);
  } catch (e) {
    return { tool: "native", opened: false, secretRead: how, read: [], dataMatches: false, error: nativeError(e) };
  }
  try {
    const dumps: Uint8Array[] = [];
    for (const r of data.regions) dumps.push(await v.read(r.offset, r.length));
    return judgeReads("native", how, data, dumps);
  } catch (e) {
    return { tool: "native", opened: false, secretRead: how, read: [], dataMatches: false, error: nativeError(e) };
  } finally {
    await v.close();
  }
}

/**
 * "The agent boots the guest": resolve the disk's secret through the driver,
 * open the volume with the run's tooling (real qemu-io, or the native LUKS
 * reader where QEMU is absent) and read back what the guest wrote. A failure
 * is returned as data, not thrown.
 */
export async function bootGuest(secrets: SecretDriver, disk: Disk, data: GuestData, io: GuestIO): Promise<BootResult> {
  let resolved: { value: Uint8Array; how: "elevated" | "plain" };
  try {
    resolved = await resolveSecret(secrets, disk.secretUuid);
  } catch (e) {
    if (e instanceof MissingToolError) throw e;
    return { tool: io.tools, opened: false, read: [], dataMatches: false, error: `${errorCode(e)}: ${(e as Error).message}` };
  }
  try {
    return io.tools === "native"
      ? await bootNatively(disk, data, resolved.value, resolved.how)
      : await bootWithQemuIo(disk, data, resolved.value, resolved.how, io.secretFiles);
  } finally {
    resolved.value.fill(0);
  }
}

/** "8 KiB" */
function sizeText(bytes: number): string {
  return bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} bytes`;
}

/** One line about a boot, for the step log: the reader, what it read, and whether it was what was written. */
export function describeBoot(b: BootResult): string {
  const reader = readerName(b.tool);
  if (!b.opened) return `${reader}: boot failed: ${b.error ?? "unknown"}`;
  const total = b.read.reduce((n, r) => n + r.runs.reduce((m, [, c]) => m + c, 0), 0);
  const reads = b.read.map((r) => `@${r.offset}: ${formatRuns(r.runs)}`).join(", ");
  return `${reader} read back ${sizeText(total)} ${b.dataMatches ? "ok" : "WRONG"} (secret read ${b.secretRead}): ${reads}` +
    (b.dataMatches ? " = what was written" : " ≠ what was written");
}

/** Checks every boot should pass. */
export function bootChecks(label: string, b: BootResult, data: GuestData): Check[] {
  return [
    check(`${label}: ${readerName(b.tool)} opened the encrypted volume`, b.opened),
    check(
      `${label}: the guest read back the data written earlier (${data.regions.map((r) => `0x${r.byte.toString(16)}`).join(", ")})`,
      b.dataMatches,
    ),
  ];
}

/** What a volume file is, as qemu-img info or the native header probe reports it. */
export interface ImageInfo {
  /** "qcow2", or "luks" for a raw LUKS file (qemu-img's names) */
  readonly format: string;
  readonly encrypted: boolean;
  readonly encryptFormat?: string;
  /** who said so */
  readonly by: "qemu-img info" | "native header probe";
}

/** qemu-img info of a volume file (tools "qemu"), or the native probe of its header (tools "native"). */
export async function imageInfo(path: string, tools: Tooling): Promise<ImageInfo> {
  if (tools === "native") {
    const fh = await open(path, "r");
    try {
      const head = Buffer.alloc(PROBE_BYTES);
      const { bytesRead } = await fh.read(head, 0, PROBE_BYTES, 0);
      const p = probeImageHeader(head.subarray(0, bytesRead), BigInt((await fh.stat()).size));
      const format = p.format === "raw" && p.encryption === "luks" ? "luks" : p.format;
      const encryptFormat = p.encryption;
      return { format, encrypted: encryptFormat !== undefined, ...(encryptFormat !== undefined ? { encryptFormat } : {}), by: "native header probe" };
    } finally {
      await fh.close();
    }
  }
  let stdout: string;
  try {
    stdout = (await execFileP("qemu-img", ["info", "--output=json", path], { env: { ...process.env, LC_ALL: "C" }, timeout: 60_000 })).stdout;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new MissingToolError("qemu-img", QEMU_IMG_PACKAGE);
    throw new Error(`qemu-img info ${path} failed: ${toolError(e as { stdout: string; stderr: string })}`);
  }
  const info = JSON.parse(stdout) as { format: string; encrypted?: boolean; "format-specific"?: { data?: { encrypt?: { format?: string } } } };
  const encryptFormat = info.format === "luks" ? "luks" : info["format-specific"]?.data?.encrypt?.format;
  return { format: info.format, encrypted: info.encrypted === true, ...(encryptFormat !== undefined ? { encryptFormat } : {}), by: "qemu-img info" };
}
