// The secret commands: virsh 9.0's secret-* (same options, same order of
// checks, same texts) plus virsecret's import-libvirt, export-libvirt, rekey.
// Secret values are printed by secret-get-value only, and never in errors.
import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { SecretDriver } from "../index.js";
import type { CliKeystores } from "./key-commands.js";
import { DefineFlags, ListAllFlags, SecretEventID, SecretLifecycleEvent } from "../secret/api.js";
import type { LifecycleEvent, SecretHandle, SecretRef } from "../secret/api.js";
import { decodeBase64Strict, encodeBase64 } from "../secret/base64.js";
import { defineFromDirectory } from "../secret/definitions-dir.js";
import { exportLibvirtDir, importLibvirtDir } from "../secret/libvirt-dir.js";
import { FileReadError, readFileCapped, readValueFile } from "./io.js";
import type { CliIO } from "./io.js";
import { optString } from "./option-values.js";
import type { CommandSpec, OptionDef, ParsedOptions } from "./options.js";
import { errorText, fail, sayExtra } from "./report.js";
import { formatTable } from "./table.js";
import { readXML } from "../xml/read.js";
import { selectNodes, XPathError } from "../xml/xpath.js";
import { formatXPathResult } from "../xml/xpath-dump.js";

/** What a command gets: output helpers and the open connection. */
export interface CommandContext {
  readonly io: CliIO;
  readonly quiet: boolean;
  /** the driver, opened before the command runs (as virsh connects first) */
  readonly drv: SecretDriver;
  /** the invocation's keystores, opened once per config file and closed after the command */
  readonly keystores?: CliKeystores;
}

export interface Command extends CommandSpec {
  /** help needs no connection */
  readonly needsDriver: boolean;
  /** true on success (exit 0) */
  run(ctx: CommandContext, opts: ParsedOptions): Promise<boolean>;
}

/** virsh's `secret-define` cap on an XML file. */
const MAX_XML_FILE = 10 * 1024 * 1024;
/** virsh's `secret-set-value --file` cap. */
const MAX_VALUE_FILE = 1024;

function say(ctx: CommandContext, text: string | Uint8Array): void {
  ctx.io.stdout(text);
}

/** virshCommandOptSecret: look up by the UUID the user typed. */
function lookupSecret(ctx: CommandContext, opts: ParsedOptions): SecretHandle | null {
  const arg = optString(ctx, opts, "secret");
  if (arg === false || arg === undefined) return null;
  try {
    return ctx.drv.lookupByUUID(arg);
  } catch (e) {
    fail(ctx, `failed to get secret '${arg}'`);
    fail(ctx, errorText(e));
    return null;
  }
}

/** The secret an operation acts on (the secret-* commands, secret-bind-key, secret-unbind-key). */
export const secretOpt: OptionDef = { name: "secret", kind: "data", help: "secret UUID" };

const secretDefine: Command = {
  name: "secret-define",
  summary: "define or modify a secret from an XML file",
  description: "Define or modify a secret.",
  options: [
    { name: "file", kind: "data", help: "file containing secret attributes in XML" },
    { name: "validate", kind: "bool", help: "validate the XML against the schema" },
  ],
  needsDriver: true,
  async run(ctx, opts) {
    const file = optString(ctx, opts, "file");
    if (file === false || file === undefined) return false;
    const validate = opts.has("validate");
    const isDir = await stat(file).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (isDir) return defineDirectory(ctx, file, validate);
    let xml: string;
    try {
      xml = Buffer.from(await readFileCapped(file, MAX_XML_FILE)).toString("utf8");
    } catch (e) {
      return fail(ctx, errorText(e));
    }
    try {
      const h = await ctx.drv.defineXML(xml, validate ? DefineFlags.VALIDATE : 0);
      sayExtra(ctx, `Secret ${h.uuid} created\n`);
      return true;
    } catch (e) {
      fail(ctx, `Failed to set attributes from ${file}`);
      return fail(ctx, errorText(e));
    }
  },
};

/** secret-define DIR: every *.xml in DIR, one line per file, exit 1 if any failed. */
async function defineDirectory(ctx: CommandContext, dir: string, validate: boolean): Promise<boolean> {
  let results;
  try {
    results = await defineFromDirectory(ctx.drv, dir, { validate });
  } catch (e) {
    fail(ctx, `Failed to define secrets from ${dir}`);
    return fail(ctx, errorText(e));
  }
  let ok = true;
  for (const r of results) {
    if (r.result === "error") {
      ok = false;
      fail(ctx, `Failed to set attributes from ${join(dir, r.file)}`);
      fail(ctx, r.error ? errorText(r.error) : "unknown error");
    } else {
      const word = r.result === "value-set" ? "value set" : r.result;
      sayExtra(ctx, `Secret ${r.uuid} ${word}\n`);
    }
  }
  return ok;
}

const secretDumpxml: Command = {
  name: "secret-dumpxml",
  summary: "secret attributes in XML",
  description: "Output attributes of a secret as an XML dump to stdout.",
  options: [
    secretOpt,
    { name: "xpath", kind: "string", help: "xpath expression to filter the XML document" },
    { name: "wrap", kind: "bool", help: "wrap xpath results in an common root element" },
  ],
  needsDriver: true,
  async run(ctx, opts) {
    const h = lookupSecret(ctx, opts);
    if (!h) return false;
    const xpath = optString(ctx, opts, "xpath");
    if (xpath === false) return false;
    let xml: string;
    try {
      xml = h.getXMLDesc(0);
    } catch (e) {
      return fail(ctx, errorText(e));
    }
    if (xpath !== undefined) return dumpXPath(ctx, xml, xpath, opts.has("wrap"));
    say(ctx, xml);
    return true;
  },
};

/**
 * virsh's --xpath: libxml2 reports a bad expression itself and virsh goes on
 * as if nothing matched (so --wrap still prints an empty `<nodes/>`).
 */
function dumpXPath(ctx: CommandContext, xml: string, expr: string, wrap: boolean): boolean {
  let nodes;
  try {
    nodes = selectNodes(expr, readXML(xml));
  } catch (e) {
    if (!(e instanceof XPathError)) return fail(ctx, errorText(e));
    ctx.io.stderr(e.report);
    nodes = [] as const;
  }
  say(ctx, formatXPathResult(nodes, wrap));
  return true;
}

const secretSetValue: Command = {
  name: "secret-set-value",
  summary: "set a secret value",
  description: "Set a secret value.",
  options: [
    secretOpt,
    { name: "file", kind: "string", help: "read secret from file" },
    { name: "plain", kind: "bool", help: "read the secret from file without converting from base64" },
    { name: "interactive", kind: "bool", help: "read the secret from the terminal" },
    { name: "base64", kind: "string", positional: true, help: "base64-encoded secret value" },
  ],
  needsDriver: true,
  async run(ctx, opts) {
    // virsh's VSH_EXCLUSIVE_OPTIONS checks, in its order, before the lookup.
    const pairs: [string, string][] = [
      ["file", "base64"],
      ["plain", "base64"],
      ["interactive", "base64"],
      ["interactive", "plain"],
      ["interactive", "file"],
    ];
    for (const [a, b] of pairs) {
      if (opts.has(a) && opts.has(b)) return fail(ctx, `Options --${a} and --${b} are mutually exclusive`);
    }
    const h = lookupSecret(ctx, opts);
    if (!h) return false;
    const b64 = optString(ctx, opts, "base64");
    if (b64 === false) return false;
    const file = optString(ctx, opts, "file");
    if (file === false) return false;
    const interactive = opts.has("interactive");
    if (b64 === undefined && file === undefined && !interactive) return fail(ctx, "Input secret value is missing");
    if (b64 !== undefined) ctx.io.stderr("warning: Passing secret value as command-line argument is insecure!\n");

    let value: Uint8Array;
    try {
      if (b64 !== undefined) {
        value = decodeBase64Strict(b64, "--base64");
      } else if (file !== undefined) {
        value = await readValueFile(file, opts.has("plain"), MAX_VALUE_FILE);
      } else {
        say(ctx, "Enter new value for secret:");
        // End of input reads as an empty value, as virsh's getpass does.
        const line = (await ctx.io.readSecretLine()) ?? "";
        value = new Uint8Array(Buffer.from(line, "utf8"));
      }
    } catch (e) {
      return fail(ctx, errorText(e));
    }
    try {
      await h.setValue(value, 0);
    } catch (e) {
      fail(ctx, "Failed to set secret value");
      return fail(ctx, errorText(e));
    } finally {
      value.fill(0);
    }
    sayExtra(ctx, "Secret value set\n");
    return true;
  },
};

const secretGetValue: Command = {
  name: "secret-get-value",
  summary: "Output a secret value",
  description: "Output a secret value to stdout.",
  options: [secretOpt, { name: "plain", kind: "bool", help: "get value without converting to base64" }],
  needsDriver: true,
  async run(ctx, opts) {
    const h = lookupSecret(ctx, opts);
    if (!h) return false;
    let value: Uint8Array;
    try {
      value = await h.getValue(0);
    } catch (e) {
      return fail(ctx, errorText(e));
    }
    try {
      // No newline of its own: virsh's end-of-command blank line is the only one.
      say(ctx, opts.has("plain") ? Buffer.from(value) : encodeBase64(value));
    } catch {
      return fail(ctx, "failed to write secret");
    } finally {
      value.fill(0);
    }
    return true;
  },
};

const secretUndefine: Command = {
  name: "secret-undefine",
  summary: "undefine a secret",
  description: "Undefine a secret.",
  options: [secretOpt],
  needsDriver: true,
  async run(ctx, opts) {
    const h = lookupSecret(ctx, opts);
    if (!h) return false;
    const arg = opts.string("secret")!;
    try {
      await h.undefine();
    } catch (e) {
      fail(ctx, `Failed to delete secret ${arg}`);
      return fail(ctx, errorText(e));
    }
    // The argument as typed, not the canonical UUID (spec §8 Q11).
    sayExtra(ctx, `Secret ${arg} deleted\n`);
    return true;
  },
};

const secretList: Command = {
  name: "secret-list",
  summary: "list secrets",
  description: "Returns a list of secrets",
  options: [
    { name: "ephemeral", kind: "bool", help: "list ephemeral secrets" },
    { name: "no-ephemeral", kind: "bool", help: "list non-ephemeral secrets" },
    { name: "private", kind: "bool", help: "list private secrets" },
    { name: "no-private", kind: "bool", help: "list non-private secrets" },
  ],
  needsDriver: true,
  async run(ctx, opts) {
    let flags = 0;
    if (opts.has("ephemeral")) flags |= ListAllFlags.EPHEMERAL;
    if (opts.has("no-ephemeral")) flags |= ListAllFlags.NO_EPHEMERAL;
    if (opts.has("private")) flags |= ListAllFlags.PRIVATE;
    if (opts.has("no-private")) flags |= ListAllFlags.NO_PRIVATE;
    let list: SecretHandle[];
    try {
      list = ctx.drv.listAll(flags);
    } catch (e) {
      fail(ctx, "Failed to list secrets");
      return fail(ctx, errorText(e));
    }
    const rows = list
      .map((h) => [h.uuid, h.usageType === "none" ? "Unused" : `${h.usageType} ${h.usageID}`] as const)
      .sort((a, b) => compareCaseless(a[0], b[0]));
    say(ctx, formatTable(ctx.quiet ? null : ["UUID", "Usage"], rows));
    return true;
  },
};

/** strcasecmp over ASCII, as virsh sorts the list. */
function compareCaseless(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

const EVENT_NAMES = ["lifecycle", "value-changed"] as const;
const LIFECYCLE_NAMES: Record<number, string> = {
  [SecretLifecycleEvent.DEFINED]: "Defined",
  [SecretLifecycleEvent.UNDEFINED]: "Undefined",
};
/** vshCommandOptTimeoutToMs: INT_MAX / 1000 seconds at most. */
const MAX_TIMEOUT_S = Math.floor(2147483647 / 1000);

/** virTimeStringNowRaw: `YYYY-MM-DD HH:MM:SS.mmm+0000`. */
function timestamp(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, "0");
  return (
    `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}+0000`
  );
}

const secretEvent: Command = {
  name: "secret-event",
  summary: "Secret Events",
  description: "List event types, or wait for secret events to occur",
  options: [
    { name: "secret", kind: "string", positional: true, help: "filter by secret name or uuid" },
    { name: "event", kind: "string", positional: true, help: "which event type to wait for" },
    { name: "loop", kind: "bool", help: "loop until timeout or interrupt, rather than one-shot" },
    { name: "timeout", kind: "int", positional: true, help: "timeout seconds" },
    { name: "list", kind: "bool", help: "list valid event types" },
    { name: "timestamp", kind: "bool", help: "show timestamp for each printed event" },
  ],
  needsDriver: true,
  async run(ctx, opts) {
    if (opts.has("list")) {
      say(ctx, EVENT_NAMES.map((n) => n + "\n").join(""));
      return true;
    }
    const name = optString(ctx, opts, "event");
    if (name === false) return false;
    if (name === undefined) return fail(ctx, "either --list or --event <type> is required");
    const eventID = EVENT_NAMES.indexOf(name as (typeof EVENT_NAMES)[number]);
    if (eventID < 0) return fail(ctx, `unknown event type ${name}`);
    const loop = opts.has("loop");
    const stamp = opts.has("timestamp");
    let timeoutMs: number | undefined;
    const t = opts.string("timeout");
    if (t !== undefined) {
      const n = /^[0-9]+$/.test(t) ? Number(t) : NaN;
      if (!(n > 0 && n <= MAX_TIMEOUT_S)) return fail(ctx, `Numeric value '${t}' for <timeout> option is malformed or out of range`);
      timeoutMs = n * 1000;
    }
    // virsh quirk kept: a bad --secret prints its first line now, listens
    // unfiltered, and reports the lookup error only if no event arrived.
    let filter: SecretRef | null = null;
    let deferred: string | undefined;
    if (opts.has("secret")) {
      const arg = opts.string("secret")!;
      if (arg === "") {
        // virshCommandOptSecret stops at the empty option without a line of its own
        deferred = "Failed to get option 'secret': Option argument is empty";
      } else {
        try {
          filter = ctx.drv.lookupByUUID(arg);
        } catch (e) {
          fail(ctx, `failed to get secret '${arg}'`);
          deferred = errorText(e);
        }
      }
    }

    let count = 0;
    const outcome = await new Promise<"done" | "timeout" | "interrupt">((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let id = -1;
      const finish = (how: "done" | "timeout" | "interrupt"): void => {
        if (timer) clearTimeout(timer);
        ctx.io.interrupt?.removeEventListener("abort", onAbort);
        if (id >= 0) ctx.drv.eventDeregisterAny(id);
        id = -1;
        resolve(how);
      };
      const onAbort = (): void => finish("interrupt");
      id = ctx.drv.eventRegisterAny(filter, eventID === 0 ? SecretEventID.LIFECYCLE : SecretEventID.VALUE_CHANGED, (ev) => {
        if (id < 0) return;
        const prefix = stamp ? `${timestamp(ctx.io.now ? ctx.io.now() : new Date())}: ` : "";
        if (eventID === 0) {
          const lc = ev as LifecycleEvent;
          say(ctx, `${prefix}event 'lifecycle' for secret ${lc.secret.uuid}: ${LIFECYCLE_NAMES[lc.event] ?? "unknown"}\n`);
        } else {
          say(ctx, `${prefix}event 'value-changed' for secret ${ev.secret.uuid}\n`);
        }
        count++;
        if (!loop) finish("done");
      });
      if (ctx.io.interrupt?.aborted) return finish("interrupt");
      ctx.io.interrupt?.addEventListener("abort", onAbort);
      if (timeoutMs !== undefined) timer = setTimeout(() => finish("timeout"), timeoutMs);
    });
    if (outcome === "interrupt") say(ctx, "event loop interrupted\n");
    if (outcome === "timeout") say(ctx, "event loop timed out\n");
    say(ctx, `events received: ${count}\n`);
    if (count > 0) return true;
    if (deferred !== undefined) fail(ctx, deferred);
    return false;
  },
};

const importLibvirt: Command = {
  name: "import-libvirt",
  summary: "import secrets from a libvirt secrets directory",
  description:
    "Define every secret of a libvirt secrets directory (<uuid>.xml with <uuid>.base64, or <uuid>.aes256cbc given libvirt's key) and set its value.",
  options: [
    { name: "dir", kind: "data", help: "libvirt secrets directory (for example /etc/libvirt/secrets)" },
    { name: "key", kind: "string", help: "libvirt's 32-byte secrets-encryption-key, for .aes256cbc values" },
  ],
  needsDriver: true,
  async run(ctx, opts) {
    const dir = optString(ctx, opts, "dir");
    if (dir === false || dir === undefined) return false;
    const keyFile = optString(ctx, opts, "key");
    if (keyFile === false) return false;
    let key: Uint8Array | undefined;
    if (keyFile !== undefined) {
      try {
        key = await readFileCapped(keyFile, 32);
      } catch (e) {
        if (e instanceof FileReadError && /Value too large/.test(e.message)) {
          return fail(ctx, `Encryption key length must be '32' '${keyFile}'`);
        }
        return fail(ctx, errorText(e));
      }
      if (key.length !== 32) return fail(ctx, `Encryption key length must be '32' '${keyFile}'`);
    }
    let report;
    try {
      report = await importLibvirtDir(ctx.drv, dir, key ? { aes256cbcKey: key } : {});
    } catch (e) {
      fail(ctx, `Failed to import secrets from ${dir}`);
      return fail(ctx, errorText(e));
    } finally {
      key?.fill(0);
    }
    let ok = true;
    for (const r of report) {
      if (r.status === "imported") {
        const how = r.value === "none" ? "without value" : `with value from ${r.value}`;
        sayExtra(ctx, `Secret ${r.uuid} imported ${how}\n`);
      } else {
        ok = false;
        fail(ctx, `Failed to import ${r.file}: ${r.message ?? "skipped"}`);
      }
    }
    return ok;
  },
};

const exportLibvirt: Command = {
  name: "export-libvirt",
  summary: "export secrets to a libvirt secrets directory",
  description:
    "Write every persistent secret in libvirt 9.0's layout: <uuid>.xml and <uuid>.base64, mode 0600, in a 0700 directory. A secret bound to a keystore key is written without its value.",
  options: [{ name: "dir", kind: "data", help: "target directory (libvirt's etc/secrets)" }],
  needsDriver: true,
  async run(ctx, opts) {
    const dir = optString(ctx, opts, "dir");
    if (dir === false || dir === undefined) return false;
    let report;
    try {
      report = await exportLibvirtDir(ctx.drv, dir);
    } catch (e) {
      fail(ctx, `Failed to export secrets to ${dir}`);
      return fail(ctx, errorText(e));
    }
    for (const r of report) {
      // a bound value stays in its keystore (see exportLibvirtDir)
      if (r.boundKey !== undefined) sayExtra(ctx, `Secret ${r.uuid} exported without value: bound to keystore key ${r.boundKey.keyId}, value not exported\n`);
      else sayExtra(ctx, `Secret ${r.uuid} exported${r.base64 ? " with value" : ""}\n`);
    }
    return true;
  },
};

const rekey: Command = {
  name: "rekey",
  summary: "re-seal every secret value under a new master key",
  description:
    "Generate a new master key and re-seal every stored value under it, atomically. On a root whose master key is wrapped (wrap-master-key), the new key is wrapped by the same keystore key.",
  options: [],
  needsDriver: true,
  async run(ctx) {
    try {
      await ctx.drv.rekey();
    } catch (e) {
      fail(ctx, "Failed to rekey the secret store");
      return fail(ctx, errorText(e));
    }
    sayExtra(ctx, "Secret store rekeyed\n");
    return true;
  },
};

/** virsh's secret group, in virsh's (alphabetical) order. */
export const SECRET_COMMANDS: readonly Command[] = [
  secretDefine,
  secretDumpxml,
  secretEvent,
  secretGetValue,
  secretList,
  secretSetValue,
  secretUndefine,
];

/** virsecret's own commands. */
export const STORE_COMMANDS: readonly Command[] = [exportLibvirt, importLibvirt, rekey];
