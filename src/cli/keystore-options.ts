// The options of every command that acts on a keystore: --keystore (the
// <keystore> configuration file), --user and --project (the caller the
// keystore acts for), how they are read, and how the keystore they name is
// opened and released for one command.
import type { Context, KeyManager } from "../keystore/key-manager.js";
import { loadKeystoreConfig, openKeystore } from "../keystore/open.js";
import type { OptionDef, ParsedOptions } from "./options.js";
import { optString } from "./option-values.js";
import { errorText, fail } from "./report.js";
import type { CommandContext } from "./secret-commands.js";

export const keystoreOpt: OptionDef = { name: "keystore", kind: "string", help: "keystore configuration file (<keystore> XML)" };
export const userOpt: OptionDef = { name: "user", kind: "string", help: "user the keystore acts for" };
export const projectOpt: OptionDef = { name: "project", kind: "string", help: "project the keystore acts for" };

/** The caller of the --user/--project values read (an absent one stays absent). */
export function callerOf(user: string | undefined, project: string | undefined): Context {
  return { ...(user !== undefined ? { user } : {}), ...(project !== undefined ? { project } : {}) };
}

/** The caller from --user/--project (neither: an empty context, which most backends refuse). */
export function contextOf(ctx: CommandContext, opts: ParsedOptions): Context | false {
  const user = optString(ctx, opts, "user");
  if (user === false) return false;
  const project = optString(ctx, opts, "project");
  if (project === false) return false;
  return callerOf(user, project);
}

/** The --keystore file, for a command that requires it. */
export function keystoreFile(ctx: CommandContext, opts: ParsedOptions, cmd: string): string | false {
  const file = optString(ctx, opts, "keystore");
  if (file === false) return false;
  if (file === undefined) return fail(ctx, `command '${cmd}' requires --keystore option`);
  return file;
}

/**
 * The keystore `file` configures: from the invocation's keystores when main
 * gave them (one opening per file, closed after the command), else opened
 * for this command alone. A failure prints `Failed to open keystore FILE`
 * then why.
 */
export async function openCommandKeystore(ctx: CommandContext, file: string): Promise<KeyManager | false> {
  try {
    return ctx.keystores !== undefined ? await ctx.keystores.open(file, ctx.drv.store) : await openKeystore(await loadKeystoreConfig(file), { store: ctx.drv.store });
  } catch (e) {
    fail(ctx, `Failed to open keystore ${file}`);
    return fail(ctx, errorText(e));
  }
}

/** Close a keystore the command opened for itself; the invocation's keystores are closed by main. */
export async function releaseCommandKeystore(ctx: CommandContext, km: KeyManager): Promise<void> {
  if (ctx.keystores === undefined) await km.close().catch(() => undefined);
}
