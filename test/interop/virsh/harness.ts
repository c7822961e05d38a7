// Run real virsh and virsecret side by side and compare bytes. The only
// normalisations are the stderr rewrites listed in src/cli/deviations.ts and,
// where the input names no UUID, the generated UUIDs.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { DEVIATIONS } from "../../../src/cli/deviations.js";
import { CapturedIO } from "../../../src/cli/io.js";
import { main } from "../../../src/cli/main.js";
import type { SecretDriver } from "../../../src/index.js";

export interface Outcome {
  code: number;
  out: string;
  err: string;
}

const ENV = { ...process.env, LANG: "C.UTF-8", LC_ALL: "C.UTF-8" };

export function virsh(uri: string, args: readonly string[], opts: { quiet?: boolean; input?: string } = {}): Outcome {
  const argv = [...(opts.quiet ? ["-q"] : []), "-c", uri, ...args];
  const r = spawnSync("virsh", argv, { input: opts.input ?? "", env: ENV, timeout: 60000 });
  if (r.error) throw r.error;
  if (r.status === null) throw new Error(`virsh ${argv.join(" ")} died of ${r.signal}`);
  return { code: r.status, out: r.stdout.toString("utf8"), err: r.stderr.toString("utf8") };
}

/** virsh with exactly this argv (no -c added): for global-option errors. */
export function virshRaw(argv: readonly string[]): Outcome {
  const r = spawnSync("virsh", argv, { input: "", env: ENV, timeout: 60000 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, out: r.stdout.toString("utf8"), err: r.stderr.toString("utf8") };
}

export async function oursRaw(argv: readonly string[]): Promise<Outcome> {
  const io = new CapturedIO();
  const code = await main(argv, io);
  return { code, out: io.stdoutText, err: io.stderrText };
}

export async function ours(
  uri: string,
  args: readonly string[],
  opts: { quiet?: boolean; driver?: SecretDriver; stdinLines?: string[] } = {},
): Promise<Outcome> {
  const io = new CapturedIO(opts.stdinLines ? { stdinLines: opts.stdinLines } : {});
  const argv = [...(opts.quiet ? ["-q"] : []), "-c", uri, ...args];
  const code = await main(argv, io, opts.driver ? { driver: opts.driver } : {});
  return { code, out: io.stdoutText, err: io.stderrText };
}

/** Apply the documented text deviations to virsh's output. */
export function normaliseVirsh(o: Outcome, allowed: readonly string[]): Outcome {
  let err = o.err;
  for (const d of DEVIATIONS) {
    if (!d.stderrRewrite || !allowed.includes(d.id)) continue;
    err = err.split(d.stderrRewrite.virsh).join(d.stderrRewrite.virsecret);
  }
  return { ...o, err };
}

const UUID_RE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** Replace generated UUIDs (only where the input had none) by their order of appearance. */
export function maskUUIDs(o: Outcome): Outcome {
  const seen = new Map<string, string>();
  const mask = (s: string) =>
    s.replace(UUID_RE, (u) => {
      if (!seen.has(u)) seen.set(u, `<uuid-${seen.size + 1}>`);
      return seen.get(u)!;
    });
  return { code: o.code, out: mask(o.out), err: mask(o.err) };
}

/** Assert virsh and virsecret agree, after the named deviations only. */
export function expectSame(v: Outcome, o: Outcome, what: string, deviations: readonly string[] = []): void {
  const nv = normaliseVirsh(v, deviations);
  expect({ code: o.code, out: o.out, err: o.err }, what).to.deep.equal({ code: nv.code, out: nv.out, err: nv.err });
}

/** LIBVIRT_URI of the shared libvirt 9.0 daemon (peers/libvirt.sh). */
export function daemonURI(): string {
  const env = readFileSync("/tmp/libvirt-peer/env", "utf8");
  const m = /^LIBVIRT_URI=(.*)$/m.exec(env);
  if (!m) throw new Error("/tmp/libvirt-peer/env has no LIBVIRT_URI: start ../shared/peers/libvirt.sh");
  return m[1]!.trim();
}
