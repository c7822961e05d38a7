// The eight scenarios of spec/scenarios.md, in order, and one runner used by
// both `npm run scenarios` and test/scenarios/: a fresh workdir per run,
// removed afterwards, the verdict judged on the returned end state (the
// scenario's own checks, then the ones every scenario shares).
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KmipChoice } from "./kmip.js";
import {
  commonChecks,
  describeTooling,
  listDir,
  resolveTools,
  type Check,
  type HarnessEnd,
  type Scenario,
  type ScenarioId,
  type ScenarioResult,
  type Tooling,
} from "./lib.js";
import { s1 } from "./s1-auto-secret-local-db.js";
import { s2 } from "./s2-auto-secret-no-db.js";
import { s3 } from "./s3-manual-passphrase.js";
import { s4 } from "./s4-keystore-start-guest.js";
import { s5 } from "./s5-keystore-create-volume.js";
import { s6 } from "./s6-byok.js";
import { s7 } from "./s7-keys-per-tenant.js";
import { s8 } from "./s8-cluster.js";

export { s1, s2, s3, s4, s5, s6, s7, s8 };

export const SCENARIOS: ReadonlyArray<Scenario<ScenarioResult>> = [s1, s2, s3, s4, s5, s6, s7, s8];

export interface RunOptions<R extends ScenarioResult = ScenarioResult> {
  /** receives every step of the story */
  readonly log?: (step: string) => void;
  readonly kmip?: KmipChoice;
  /** who makes and opens the volumes; default: qemu when qemu-img and qemu-io are on PATH, else native */
  readonly tools?: Tooling;
  /**
   * Called with the end state while the workdir still exists (roots, pools,
   * volumes), before it is removed: lets a test look at what the run left,
   * e.g. open a natively made volume with qemu-io. Not called when the run threw.
   */
  readonly beforeCleanup?: (workdir: string, result: R & HarnessEnd) => Promise<void>;
}

export interface ScenarioOutcome<R extends ScenarioResult = ScenarioResult> {
  readonly id: ScenarioId;
  readonly title: string;
  /** the tooling the run used */
  readonly tools: Tooling;
  /** the end state; absent when the run threw */
  readonly result?: R & HarnessEnd;
  readonly checks: Check[];
  /** why the run threw */
  readonly error?: unknown;
  readonly passed: boolean;
  readonly ms: number;
}

/** Workdirs of runs in progress, so an interrupted script can still remove them. */
export const activeWorkdirs = new Set<string>();

export function findScenario(name: string): Scenario<ScenarioResult> | undefined {
  const n = name.toLowerCase();
  const id = /^\d$/.test(n) ? `s${n}` : n.split("-")[0];
  return SCENARIOS.find((s) => s.id === id);
}

/** Run one scenario in a workdir of its own (removed afterwards, whatever happened). */
export async function runScenario<R extends ScenarioResult>(
  sc: Scenario<R>,
  opts: RunOptions<R> = {},
): Promise<ScenarioOutcome<R>> {
  const started = Date.now();
  const tools = opts.tools ?? (await resolveTools("auto")).tools;
  const log = opts.log ?? (() => undefined);
  const workdir = await mkdtemp(join(tmpdir(), `virsecret-${sc.id}-`));
  activeWorkdirs.add(workdir);
  try {
    const secretFiles = join(workdir, "secret-files");
    await mkdir(secretFiles, { mode: 0o700 });
    log(`tooling: ${describeTooling(tools)}`);
    const end = await sc.run({ log, workdir, secretFiles, tools, ...(opts.kmip ? { kmip: opts.kmip } : {}) });
    // the run is over (its drivers closed): whatever is still in the secret-file dir was left behind
    const result = { ...end, secretFilesLeft: await listDir(secretFiles) };
    const checks = [...sc.verify(result), ...commonChecks(result)];
    await opts.beforeCleanup?.(workdir, result);
    return { id: sc.id, title: sc.title, tools, result, checks, passed: checks.length > 0 && checks.every((c) => c.ok), ms: Date.now() - started };
  } catch (error) {
    return { id: sc.id, title: sc.title, tools, checks: [], error, passed: false, ms: Date.now() - started };
  } finally {
    await rm(workdir, { recursive: true, force: true });
    activeWorkdirs.delete(workdir);
  }
}
