// Strict base64 for values read from files and command lines. libvirt 9.0
// decodes with GLib, which skips any byte outside the alphabet, so garbage
// "succeeds" and becomes some other secret (spec §8 Q6). We refuse it instead.
import { VirError } from "../errors.js";

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** What base64 tools put between characters: line breaks (coreutils wraps at 76), spaces, tabs. */
const LAYOUT = /[ \t\r\n]+/g;

/**
 * Decode standard base64 (RFC 4648 alphabet, `=` padding required).
 * ASCII spaces, tabs and line breaks anywhere are skipped, as libvirt does
 * (a trailing newline from `echo`, a value wrapped by `base64`); anything
 * else outside the alphabet, a wrong length, misplaced padding or non-zero
 * pad bits throws VirError INVALID_ARG. `what` names the source in the error
 * (a file name or option); the text itself is never quoted, since it is a
 * secret.
 */
export function decodeBase64Strict(text: string, what?: string): Uint8Array {
  const t = text.replace(LAYOUT, "");
  const fail = (): never => {
    throw new VirError("INVALID_ARG", what === undefined ? "invalid base64 data" : `invalid base64 in '${what}'`);
  };
  if (t.length % 4 !== 0 || !B64.test(t)) fail();
  const out = Buffer.from(t, "base64");
  // Re-encoding catches non-canonical input (stray pad bits) that Buffer tolerates.
  if (out.toString("base64") !== t) {
    out.fill(0);
    fail();
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** Standard base64 with padding and no line breaks, as libvirt writes `.base64` files. */
export function encodeBase64(value: Uint8Array): string {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64");
}
