// Test helpers: run the CLI in-process with captured bytes, in a fresh root.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CapturedIO } from "../../../src/cli/io.js";
import { main } from "../../../src/cli/main.js";
import type { MainOptions } from "../../../src/cli/main.js";

export interface RunResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
  readonly outBytes: Buffer;
}

export async function runCli(
  argv: readonly string[],
  opts: { stdinLines?: string[]; interrupt?: AbortSignal } & MainOptions = {},
): Promise<RunResult> {
  const io = new CapturedIO({
    ...(opts.stdinLines ? { stdinLines: opts.stdinLines } : {}),
    ...(opts.interrupt ? { interrupt: opts.interrupt } : {}),
  });
  const code = await main(argv, io, opts.driver ? { driver: opts.driver } : {});
  return { code, out: io.stdoutText, err: io.stderrText, outBytes: io.stdoutBytes };
}

/** A scratch directory removed by the returned cleanup. */
export function scratch(prefix = "virsecret-cli-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** libvirt's own secretxml2xmlin fixtures (../shared beside the checkout). */
export const LIBVIRT_FIXTURES = fileURLToPath(new URL("../../../../shared/fixtures/libvirt/secret/secretxml2xmlin/", import.meta.url));
/** virsecret's round-trip fixtures: NAME.xml in, NAME.out as libvirt 9.0 prints it (absent: same as in). */
export const OWN_ROUNDTRIP = fileURLToPath(new URL("../../../fixtures/secret/roundtrip/", import.meta.url));
