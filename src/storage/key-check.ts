// Does a passphrase open a volume? `qemu-img info` cannot tell: it opens
// images without I/O and never unlocks a LUKS keyslot. So a qcow2 volume is
// opened by `qemu-img check` (which unlocks the keyslot, then checks the
// metadata), and a raw LUKS volume by `qemu-io -r` reading its first sector
// (`qemu-img check` has no checks for the luks driver and stops before it
// matters). Both fail with qemu's "Invalid password, cannot unlock any
// keyslot" on a wrong passphrase (verified with qemu 7.2).
import { VirError } from "../errors.js";
import { qemuEscapeComma } from "./qemu-img.js";
import type { VolumeFormat } from "./volume-def.js";

/** qemu's text when no keyslot opens with the given passphrase. */
export const WRONG_PASSPHRASE_TEXT = "Invalid password, cannot unlock any keyslot";

const ALIAS = "vol_keycheck0";

export interface KeyCheckCommand {
  /** "qemu-img" or "qemu-io": which program argv[0] must be */
  readonly program: "qemu-img" | "qemu-io";
  /** the whole command line, argv[0] included */
  readonly argv: string[];
}

/** The command that opens `path` (raw LUKS or qcow2 LUKS) with the passphrase in `secretPath`. */
export function buildKeyCheckCommand(
  format: VolumeFormat,
  path: string,
  secretPath: string,
  capacity: bigint,
  programs: { qemuImg?: string; qemuIo?: string } = {},
): KeyCheckCommand {
  const object = ["--object", `secret,id=${ALIAS},file=${qemuEscapeComma(secretPath)}`];
  const file = `file.filename=${qemuEscapeComma(path)}`;
  if (format === "qcow2") {
    return {
      program: "qemu-img",
      argv: [programs.qemuImg ?? "qemu-img", "check", ...object, "--image-opts", `driver=qcow2,${file},encrypt.key-secret=${ALIAS}`],
    };
  }
  if (format === "raw") {
    // read what exists: a volume smaller than a sector is only opened
    const cmd = capacity >= 512n ? "read 0 512" : "quit";
    return {
      program: "qemu-io",
      argv: [programs.qemuIo ?? "qemu-io", "-r", ...object, "--image-opts", `driver=luks,${file},key-secret=${ALIAS}`, "-c", cmd],
    };
  }
  throw new VirError("CONFIG_UNSUPPORTED", `volume encryption unsupported with format ${format}`, "STORAGE");
}
