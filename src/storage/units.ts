// Sizes as libvirt reads and writes them: virStrToLong_ullp for the digits,
// virScaleInteger for the unit suffix, and qemu-img's "<KiB>K" size argument.
// bigint throughout: sizes reach 2^63 - 1, beyond a double's exact range.
import { VirError } from "../errors.js";

export const ULLONG_MAX = (1n << 64n) - 1n;
/** off_t is signed, so libvirt caps volume sizes at LLONG_MAX. */
export const LLONG_MAX = (1n << 63n) - 1n;

const C_SPACE = /^[ \t\n\v\f\r]*/;

/**
 * strtoull(base 10) with virStrToLong_ullp's checks: leading C whitespace and
 * an optional '+' allowed, no '-' anywhere, at least one digit, nothing after
 * the digits, no overflow. Returns null when malformed.
 */
export function parseUnsignedLong(text: string): bigint | null {
  const lead = C_SPACE.exec(text)![0].length;
  const m = /^\+?([0-9]+)$/.exec(text.slice(lead));
  if (!m) return null;
  const v = BigInt(m[1]!);
  return v > ULLONG_MAX ? null : v;
}

/** Like parseUnsignedLong, limited to unsigned int (virStrToLong_uip). */
export function parseUnsignedInt(text: string): number | null {
  const v = parseUnsignedLong(text);
  return v === null || v > 0xffffffffn ? null : Number(v);
}

/** The factor a unit suffix stands for, or null for an unknown suffix. */
export function unitScale(suffix: string): bigint | null {
  const s = suffix.toLowerCase();
  if (s === "b" || s === "byte" || s === "bytes") return 1n;
  let base: bigint;
  if (s.length === 1 || s.slice(1) === "ib") base = 1024n;
  else if (s.length === 2 && s[1] === "b") base = 1000n;
  else return null;
  const power = "kmgtpe".indexOf(s[0]!);
  if (power < 0) return null;
  return base ** BigInt(power + 1);
}

/**
 * virScaleInteger: multiply `value` by the unit's factor (or by `scale` when
 * there is no unit), refusing results above `limit`.
 */
export function scaleInteger(value: bigint, suffix: string | undefined, scale: bigint, limit: bigint): bigint {
  let factor: bigint;
  let shown = suffix ?? "";
  if (shown === "") {
    factor = scale;
    shown = "";
  } else {
    const f = unitScale(shown);
    if (f === null) throw new VirError("INVALID_ARG", `unknown suffix '${shown}'`, "STORAGE");
    factor = f;
  }
  if (value !== 0n && value > limit / factor) {
    throw new VirError("OVERFLOW", `value too large: ${value}${shown}`, "STORAGE");
  }
  return value * factor;
}

/**
 * virStorageSize: the text of <capacity> or <allocation> with its unit,
 * in bytes, at most LLONG_MAX.
 */
export function parseStorageSize(text: string, unit: string | undefined): bigint {
  const v = parseUnsignedLong(text);
  if (v === null) throw new VirError("XML_ERROR", "malformed capacity element", "STORAGE");
  return scaleInteger(v, unit, 1n, LLONG_MAX);
}

/** qemu-img's size argument as libvirt writes it: ceil(bytes / 1024) then "K". */
export function qemuImgSizeArg(bytes: bigint): string {
  return `${(bytes + 1023n) / 1024n}K`;
}
