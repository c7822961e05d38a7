// How a command reports, as virsh does: errors on stderr after "error: "
// (vshError), informational lines that -q suppresses (vshPrintExtra).
import type { CommandContext } from "./secret-commands.js";

/** Print `error: TEXT` and return false, so a command can `return fail(...)`. */
export function fail(ctx: CommandContext, text: string): false {
  ctx.io.stderr(`error: ${text}\n`);
  return false;
}

/** vshPrintExtra: informational lines that -q suppresses. */
export function sayExtra(ctx: CommandContext, text: string): void {
  if (!ctx.quiet) ctx.io.stdout(text);
}

/** The text after `error: ` for anything a command can meet; never a value. */
export function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
