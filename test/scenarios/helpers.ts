// Running a scenario from a test: the same run() the script calls, the end
// state returned for the test's own assertions (not only the script's verdict).
import { expect } from "chai";
import { runScenario } from "../../scenarios/index.js";
import type { KmipChoice } from "../../scenarios/kmip.js";
import type { BootResult, GuestData, HarnessEnd, Scenario, ScenarioResult } from "../../scenarios/lib.js";

/** Run `sc` in a temp workdir (removed afterwards); fail with the scenario's own error or failed checks. */
export async function endState<R extends ScenarioResult>(sc: Scenario<R>, kmip?: KmipChoice): Promise<R & HarnessEnd> {
  const steps: string[] = [];
  const out = await runScenario(sc, { log: (s) => steps.push(s), ...(kmip ? { kmip } : {}) });
  if (out.error !== undefined) {
    throw new Error(`${sc.id} threw after steps:\n  ${steps.join("\n  ")}\n${String((out.error as Error).stack ?? out.error)}`);
  }
  const failed = out.checks.filter((c) => !c.ok).map((c) => c.claim);
  expect(failed, `${sc.id} failed checks`).to.deep.equal([]);
  expect(steps.length, "the scenario printed its steps").to.be.greaterThan(3);
  return out.result!;
}

/** A boot really opened the volume and read back every region as written. */
export function expectBooted(b: BootResult, data: GuestData): void {
  expect(b.opened, b.error).to.equal(true);
  expect(b.read.map((r) => r.offset)).to.deep.equal(data.regions.map((r) => r.offset));
  b.read.forEach((r, i) => expect(r.runs).to.deep.equal([[data.regions[i]!.byte, data.regions[i]!.length]]));
  expect(b.dataMatches).to.equal(true);
}

/** KMIP servers the KMIP scenarios run against here: ours always, PyKMIP too (the interop suite runs with the peers up). */
export const KMIP_SERVERS: readonly KmipChoice[] = ["virsecret", "pykmip"];
