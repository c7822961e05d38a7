// `npm run scenarios [-- s3 ...] [--kmip=auto|pykmip|virsecret] [--tools=auto|qemu|native]`:
// runs the scenarios of spec/scenarios.md end to end, one by one, printing
// the tooling first, then every step as "[sN] ...", each check of the
// verdict, and a summary line per scenario. Tooling "auto" boots with real
// qemu-io when qemu-img and qemu-io are on PATH, else with the native LUKS
// reader (the spec allows it where QEMU is absent). Exits 1 when a scenario
// fails, 2 when a needed tool is missing or the arguments are wrong.
import { rmSync } from "node:fs";
import { activeWorkdirs, findScenario, runScenario, SCENARIOS } from "../scenarios/index.js";
import { parseKmipChoice, startsOwnKmipServer, type KmipChoice } from "../scenarios/kmip.js";
import {
  describeTooling,
  MissingToolError,
  parseToolsChoice,
  requireOpenssl,
  resolveTools,
  type ResolvedTools,
  type Scenario,
  type ScenarioResult,
  type ToolsChoice,
} from "../scenarios/lib.js";

const USAGE = "usage: npm run scenarios [-- [s1..s8 ...] [--kmip=auto|pykmip|virsecret] [--tools=auto|qemu|native]]\n" +
  "  (environment: VIRSECRET_SCENARIO_KMIP, VIRSECRET_SCENARIO_TOOLS)";

interface Args {
  readonly selected: Array<Scenario<ScenarioResult>>;
  readonly kmip: KmipChoice;
  readonly tools: ToolsChoice;
}

function parseArgs(argv: readonly string[]): Args {
  let kmip = parseKmipChoice(process.env["VIRSECRET_SCENARIO_KMIP"]);
  let tools = parseToolsChoice(process.env["VIRSECRET_SCENARIO_TOOLS"]);
  const selected: Array<Scenario<ScenarioResult>> = [];
  for (const a of argv) {
    if (a === "-h" || a === "--help") {
      console.log(USAGE);
      for (const s of SCENARIOS) console.log(`  ${s.id}  ${s.title}`);
      process.exit(0);
    }
    if (a.startsWith("--kmip=")) {
      kmip = parseKmipChoice(a.slice("--kmip=".length));
      continue;
    }
    if (a.startsWith("--tools=")) {
      tools = parseToolsChoice(a.slice("--tools=".length));
      continue;
    }
    const sc = findScenario(a);
    if (!sc) throw new Error(`unknown scenario '${a}' (${SCENARIOS.map((s) => s.id).join(", ")})`);
    if (!selected.includes(sc)) selected.push(sc);
  }
  return { selected: selected.length > 0 ? selected : [...SCENARIOS], kmip, tools };
}

function describeError(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/**
 * Every program the run needs, checked before any scenario starts; each
 * missing one is named with its Debian package. Undefined when one is missing.
 */
async function preflight(args: Args): Promise<ResolvedTools | undefined> {
  const missing: string[] = [];
  let resolved: ResolvedTools | undefined;
  try {
    resolved = await resolveTools(args.tools);
  } catch (e) {
    if (!(e instanceof MissingToolError)) throw e;
    missing.push(`${e.message}\n  --tools=qemu boots guests with the real qemu-img/qemu-io; there is no fake boot (--tools=auto or native uses the native LUKS reader instead).`);
  }
  const kmipUsers = args.selected.filter((s) => s.usesKmip).map((s) => s.id);
  if (kmipUsers.length > 0 && (await startsOwnKmipServer(args.kmip))) {
    try {
      await requireOpenssl();
    } catch (e) {
      if (!(e instanceof MissingToolError)) throw e;
      missing.push(`${e.message}\n  ${kmipUsers.join(", ")} start virsecret's own KMIP server (no PyKMIP peer answers, --kmip=${args.kmip}); openssl makes its throwaway TLS certificates.`);
    }
  }
  for (const m of missing) console.error(`error: ${m}`);
  return missing.length === 0 ? resolved : undefined;
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`error: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const pre = await preflight(args);
  if (pre === undefined) return 2;
  console.log(`tooling: ${describeTooling(pre.tools)}`);
  console.log(`  (${pre.why})\n`);

  const summary: string[] = [];
  let failed = 0;
  for (const sc of args.selected) {
    const tag = `[${sc.id}]`;
    console.log(`${tag} === ${sc.title} ===`);
    const out = await runScenario(sc, { log: (step) => console.log(`${tag} ${step}`), kmip: args.kmip, tools: pre.tools });
    for (const c of out.checks) console.log(`${tag} check: ${c.ok ? "ok    " : "FAILED"} ${c.claim}`);
    if (out.error !== undefined) console.log(`${tag} ERROR: ${describeError(out.error)}`);
    if (out.error instanceof MissingToolError) {
      console.error(`error: ${out.error.message}`);
      return 2;
    }
    const verdict = out.passed ? "PASS" : "FAIL";
    console.log(`${tag} verdict: ${verdict} (${out.checks.filter((c) => c.ok).length}/${out.checks.length} checks, ${(out.ms / 1000).toFixed(1)} s)`);
    if (!out.passed) failed++;
    summary.push(`${sc.id}  ${verdict}  ${sc.title}  (${(out.ms / 1000).toFixed(1)} s)`);
  }
  console.log("\nsummary:");
  for (const line of summary) console.log(`  ${line}`);
  console.log(failed === 0 ? `all ${summary.length} scenario(s) passed` : `${failed} of ${summary.length} scenario(s) FAILED`);
  return failed === 0 ? 0 : 1;
}

// Ctrl-C: no scenario's finally runs, so remove its workdir (volumes, roots, secret files) here.
process.once("SIGINT", () => {
  for (const d of activeWorkdirs) rmSync(d, { recursive: true, force: true });
  console.error("\ninterrupted; temporary directories removed");
  process.exit(130);
});

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`error: ${describeError(e)}`);
    process.exit(1);
  },
);
