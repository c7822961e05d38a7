// Every place where `virsecret` deliberately differs from virsh 9.0. This is
// the one list: the differential test (test/interop/virsh/) normalises exactly
// these and nothing else, and the README shows it.

export interface Deviation {
  /** stable id, used by the differential test */
  readonly id: string;
  /** the command(s) concerned */
  readonly command: string;
  /** what virsh 9.0 does (verified) */
  readonly virsh: string;
  /** what virsecret does instead */
  readonly virsecret: string;
  /** why */
  readonly reason: string;
  /**
   * A textual rewrite that turns virsh's stderr line into ours, when the
   * difference is only a text; the differential test applies it to virsh's output.
   */
  readonly stderrRewrite?: { readonly virsh: string; readonly virsecret: string };
}

export const DEVIATIONS: readonly Deviation[] = [
  {
    id: "insecure-warning",
    command: "secret-set-value --base64 B64 / secret-set-value UUID B64",
    virsh: "prints `error: Passing secret value as command-line argument is insecure!` and still succeeds (exit 0)",
    virsecret: "prints `warning: Passing secret value as command-line argument is insecure!`; the outcome is the same",
    reason: "it is a warning: a line starting with `error:` on a successful command misleads scripts and people",
    stderrRewrite: {
      virsh: "error: Passing secret value as command-line argument is insecure!\n",
      virsecret: "warning: Passing secret value as command-line argument is insecure!\n",
    },
  },
  {
    id: "ephemeral-define-embedded",
    command: "secret-define (ephemeral='yes') on secret:///embed",
    virsh: "crashes with SIGSEGV, exit 139 (NULL inhibit callback in embedded mode)",
    virsecret: "defines the ephemeral secret, held in memory for the life of the process; output as the libvirt daemon prints it",
    reason: "a crash is never the intended behaviour; the daemon (and newer libvirt) succeed",
  },
  {
    id: "undefine-embedded",
    command: "secret-undefine on secret:///embed",
    virsh: "always crashes with SIGSEGV after deleting the files (NULL inhibit callback in embedded mode)",
    virsecret: "undefines and prints `Secret <arg as typed> deleted`, as the libvirt daemon does",
    reason: "same as above; the differential test compares undefine against the daemon",
  },
  {
    id: "private-get-value-embedded",
    command: "secret-get-value on a private secret",
    virsh: "embedded mode: `error: internal error: No current identity`",
    virsecret: "`error: Invalid secret: secret is private`, exactly what the libvirt daemon answers every external client",
    reason: "the embedded text is an artefact of the missing thread identity, not a policy",
    stderrRewrite: {
      virsh: "error: internal error: No current identity\n",
      virsecret: "error: Invalid secret: secret is private\n",
    },
  },
  {
    id: "strict-base64",
    command: "secret-set-value --file F (without --plain), --base64 B64",
    virsh:
      "decodes with GLib: bytes outside the alphabet are skipped and a trailing partial group dropped, so garbage silently becomes another value",
    virsecret:
      "surrounding whitespace is ignored; anything else that is not canonical padded base64 fails with `error: invalid argument: invalid base64 in '<file>'` (or `'--base64'`), exit 1, value unchanged",
    reason: "a mistyped or truncated secret must not be stored as if it were right (spec §8 Q6)",
  },
  {
    id: "empty-value",
    command: "secret-set-value with a 0-byte value (empty file, empty --base64 decoding, empty or no --interactive input)",
    virsh:
      "prints `Secret value set` but the secret then has no value in memory while the old `.base64` stays on disk and comes back after a restart",
    virsecret:
      "`error: Failed to set secret value` then `error: invalid argument: secret value must not be empty`, exit 1; the previous value is kept",
    reason: "libvirt cannot represent an empty value consistently (spec §8 Q3)",
  },
  {
    id: "define-directory",
    command: "secret-define DIR",
    virsh: "`error: Failed to read file 'DIR': Is a directory`",
    virsecret:
      "applies every `*.xml` in DIR (with an optional `UUID.value` / `UUID.base64` beside it) and prints `Secret UUID created|updated|unchanged|value set` per file",
    reason: "declarative, idempotent provisioning of secret definitions",
  },
  {
    id: "extra-commands",
    command: "import-libvirt, export-libvirt, rekey",
    virsh: "`error: unknown command: '<name>'`",
    virsecret: "move secrets from and to libvirt's on-disk layout, and re-seal every value under a new master key",
    reason: "virsecret has its own store; these commands are its migration and key-rotation tools",
  },
  {
    id: "help-scope",
    command: "help, no command, --version",
    virsh:
      "`help` lists every virsh command group; no command starts an interactive shell; `--version` prints the libvirt version",
    virsecret:
      "`help` lists the secret commands (`help <command>` is byte-identical to virsh's for the shared commands); no command gives `error: no command given (virsecret has no interactive shell); see 'virsecret help'`, exit 1; `--version` prints virsecret's version",
    reason: "virsecret is a secret-driver tool, not a general hypervisor shell",
  },
  {
    id: "default-uri",
    command: "any command without -c",
    virsh: "uses LIBVIRT_DEFAULT_URI or the hypervisor's default",
    virsecret:
      "uses $VIRSECRET_DEFAULT_URI, else secret:///embed?root=/var/lib/virsecret as root, else $XDG_DATA_HOME/virsecret (~/.local/share/virsecret)",
    reason: "virsecret opens only embedded secret:///embed?root=DIR roots",
  },
  {
    id: "utf8-table",
    command: "secret-list",
    virsh: "column widths and escaping depend on the locale (garbled in the C locale)",
    virsecret: "always behaves as virsh in a UTF-8 locale (C.UTF-8)",
    reason: "Node strings are Unicode; the UTF-8 behaviour is the only sensible one",
  },
];

/** Look up one deviation by id (throws on an unknown id: a typo in a test must fail). */
export function deviation(id: string): Deviation {
  const d = DEVIATIONS.find((x) => x.id === id);
  if (!d) throw new Error(`unknown deviation id '${id}'`);
  return d;
}
