// Connection URIs: virsecret opens only libvirt's embedded form
// `secret:///embed?root=/abs/dir` and reports libvirt's errors for bad ones.
//
// Default URI, used when the caller gives none (document in README):
//   1. $VIRSECRET_DEFAULT_URI, if set and not empty;
//   2. otherwise, when running as root (uid 0): secret:///embed?root=/var/lib/virsecret
//   3. otherwise: secret:///embed?root=$XDG_DATA_HOME/virsecret, where an unset,
//      empty or relative XDG_DATA_HOME falls back to ~/.local/share (XDG base-dir rules).
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import { VirError } from "../errors.js";

export interface SecretURI {
  /** the URI as given */
  readonly uri: string;
  /** absolute root directory of the embedded driver */
  readonly root: string;
}

/** Parse `secret:///embed?root=/abs/dir` (query parameters split on & or ;, %XX decoded). */
export function parseSecretURI(uri: string): SecretURI {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#.*)?$/.exec(uri);
  if (!m || m[1]!.toLowerCase() !== "secret" || m[2] !== "" || m[3] !== "/embed") {
    throw new VirError("INTERNAL_ERROR", "URI must be secret:///embed");
  }
  let root: string | undefined;
  for (const part of (m[4] ?? "").split(/[&;]/)) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const name = unescapeURI(eq < 0 ? part : part.slice(0, eq));
    // libvirt takes the first parameter with the name
    if (name === "root" && root === undefined) root = unescapeURI(eq < 0 ? "" : part.slice(eq + 1));
  }
  if (root === undefined || root === "") throw new VirError("INVALID_ARG", "Missing URI parameter 'root'");
  if (!isAbsolute(root)) throw new VirError("CONFIG_UNSUPPORTED", "root path must be absolute");
  return { uri, root };
}

function unescapeURI(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new VirError("INVALID_ARG", "malformed URI escape in 'secret:///embed' parameters");
  }
}

/** Build an embedded URI for a root directory, escaping what a URI query cannot hold. */
export function embedURI(root: string): string {
  return "secret:///embed?root=" + root.split("/").map((seg) => encodeURIComponent(seg)).join("/");
}

/** The URI used when none is given; see the rule at the top of this file. */
export function defaultSecretURI(
  env: NodeJS.ProcessEnv = process.env,
  uid: number | undefined = process.getuid?.(),
): string {
  const explicit = env["VIRSECRET_DEFAULT_URI"];
  if (explicit !== undefined && explicit !== "") return explicit;
  if (uid === 0) return embedURI("/var/lib/virsecret");
  const xdg = env["XDG_DATA_HOME"];
  const base = xdg !== undefined && xdg !== "" && isAbsolute(xdg) ? xdg : join(env["HOME"] || homedir(), ".local", "share");
  return embedURI(join(base, "virsecret"));
}
