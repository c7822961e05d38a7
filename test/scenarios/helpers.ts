// Running a scenario from a test: the same run() the script calls, the end
// state returned for the test's own assertions (not only the script's verdict).
import { expect } from "chai";
import { runScenario } from "../../scenarios/index.js";
import type { KmipChoice } from "../../scenarios/kmip.js";
import { readerName, type BootResult, type GuestData, type HarnessEnd, type Scenario, type ScenarioResult, type Tooling } from "../../scenarios/lib.js";

export interface EndStateOptions<R extends ScenarioResult> {
  readonly kmip?: KmipChoice;
  /** given explicitly in every test: each scenario runs with both */
  readonly tools: Tooling;
  /** looks at the workdir before the runner removes it */
  readonly beforeCleanup?: (workdir: string, result: R & HarnessEnd) => Promise<void>;
}

/** Run `sc` in a temp workdir (removed afterwards); fail with the scenario's own error or failed checks. */
export async function endState<R extends ScenarioResult>(sc: Scenario<R>, opts: EndStateOptions<R>): Promise<R & HarnessEnd> {
  const steps: string[] = [];
  const out = await runScenario(sc, {
    log: (s) => steps.push(s),
    tools: opts.tools,
    ...(opts.kmip ? { kmip: opts.kmip } : {}),
    ...(opts.beforeCleanup ? { beforeCleanup: opts.beforeCleanup } : {}),
  });
  if (out.error !== undefined) {
    throw new Error(`${sc.id} threw after steps:\n  ${steps.join("\n  ")}\n${String((out.error as Error).stack ?? out.error)}`);
  }
  const failed = out.checks.filter((c) => !c.ok).map((c) => c.claim);
  expect(failed, `${sc.id} failed checks`).to.deep.equal([]);
  expect(steps.length, "the scenario printed its steps").to.be.greaterThan(3);
  expect(out.tools).to.equal(opts.tools);
  expect(steps[0], "the first step names the tooling").to.match(opts.tools === "qemu" ? /^tooling: QEMU: .*qemu-img.*qemu-io/ : /^tooling: native: .*native backend.*native LUKS reader/);
  const reader = readerName(opts.tools);
  const boots = steps.filter((s) => / read back \d+ KiB (ok|WRONG)/.test(s));
  expect(boots.length, "boot steps printed").to.be.greaterThan(0);
  for (const b of boots) expect(b, "each boot step names its reader").to.contain(`${reader} read back`);
  return out.result!;
}

/** A boot really opened the volume with `tools` and read back every region as written. */
export function expectBooted(b: BootResult, data: GuestData, tools: Tooling): void {
  expect(b.tool).to.equal(tools);
  expect(b.opened, b.error).to.equal(true);
  expect(b.read.map((r) => r.offset)).to.deep.equal(data.regions.map((r) => r.offset));
  b.read.forEach((r, i) => expect(r.runs).to.deep.equal([[data.regions[i]!.byte, data.regions[i]!.length]]));
  expect(b.dataMatches).to.equal(true);
}

/** KMIP servers the KMIP scenarios run against here: ours always, PyKMIP too (the interop suite runs with the peers up). */
export const KMIP_SERVERS: readonly KmipChoice[] = ["virsecret", "pykmip"];

/** Every scenario runs with QEMU's tools and with the native backend and reader. */
export const TOOLINGS: readonly Tooling[] = ["qemu", "native"];
