// Reading a parsed option's value the way virsh's vshCommandOpt* helpers do:
// a bad value is reported with virsh's text and the command stops.
import type { ParsedOptions } from "./options.js";
import { fail } from "./report.js";
import type { CommandContext } from "./secret-commands.js";

/** vshCommandOptStringReq: a given-but-empty option is an error. */
export function optString(ctx: CommandContext, opts: ParsedOptions, name: string): string | undefined | false {
  const v = opts.string(name);
  if (v === "") return fail(ctx, `Failed to get option '${name}': Option argument is empty`);
  return v;
}

/** vshCommandOptInt-style positive integer. */
export function optInt(ctx: CommandContext, opts: ParsedOptions, name: string): number | undefined | false {
  const v = opts.string(name);
  if (v === undefined) return undefined;
  const n = /^[0-9]+$/.test(v) ? Number(v) : NaN;
  if (!(Number.isSafeInteger(n) && n > 0)) return fail(ctx, `Numeric value '${v}' for <${name}> option is malformed or out of range`);
  return n;
}
