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
    command: "import-libvirt, export-libvirt, rekey, wrap-master-key",
    virsh: "`error: unknown command: '<name>'`",
    virsecret: "move secrets from and to libvirt's on-disk layout, re-seal every value under a new master key, and keep that key only wrapped by a keystore key",
    reason: "virsecret has its own store; these commands are its migration and key-rotation tools",
  },
  {
    id: "help-scope",
    command: "help, -h/--help, no command, -v/-V/--version[=TYPE], global options",
    virsh:
      "`help` and `-h` list every virsh command group; no command starts an interactive shell; `-v`/`--version` print the libvirt version, `-V`/`--version=long` its build features; global options -d, -e, -k, -K, -l, -t exist",
    virsecret:
      "`help` and `-h` list virsecret's commands (`help <command>` is byte-identical to virsh's for the shared commands); no command gives `error: no command given (virsecret has no interactive shell); see 'virsecret help'`, exit 1; `-v`/`--version` print virsecret's version, `-V`/`--version=long` one line naming it; the global options are -c, -q, -r, -h, -v, -V (with virsh's getopt rules and error texts), others are `unsupported option`",
    reason: "virsecret is a secret-driver tool, not a general hypervisor shell",
  },
  {
    id: "xpath-empty",
    command: "secret-dumpxml UUID --xpath ''",
    virsh: "`error: One or more references were leaked after disconnect from the hypervisor` (the option error is lost behind a leaked secret handle), exit 1",
    virsecret: "`error: Failed to get option 'xpath': Option argument is empty`, exit 1, as every other empty option",
    reason: "the leak report is a virsh bug that hides the real error",
    stderrRewrite: {
      virsh: "error: One or more references were leaked after disconnect from the hypervisor\n",
      virsecret: "error: Failed to get option 'xpath': Option argument is empty\n",
    },
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
  {
    id: "vol-pool-directory",
    command: "vol-create FILE, vol-delete VOL, vol-list, vol-dumpxml VOL, vol-info VOL (--pool)",
    virsh:
      "the pool is a libvirt storage pool named by the first positional argument (`vol-create POOL FILE`, `vol-list POOL`) or `--pool NAME`, defined and started in the daemon",
    virsecret:
      "`--pool DIR` is a directory used as a dir pool with no definition; without it $VIRSECRET_POOL, else `<root>/pool` inside the connection's root (created 0700); `vol-create` takes only FILE as a positional argument",
    reason: "virsecret has no storage pool objects; a dir pool is fully described by its directory",
  },
  {
    id: "vol-generated-secret",
    command: "vol-create FILE --generate-secret persistent|ephemeral [--private], vol-create FILE --key-id ID --keystore CONFIG.xml [--user U --project P]",
    virsh:
      "no such options; libvirt 9.0 never generates a volume secret: `<encryption format='luks'>` without a `<secret>` fails with `A single <secret type='passphrase'...> element is expected in encryption description`",
    virsecret:
      "a luks `<encryption>` without a `<secret>` may get a generated secret (usage volume = the target path; random passphrase, or the lowercase hex of a keystore key with --keystore); --key-id encrypts under a keystore copy of the user's key (bring your own key). Without these options the libvirt error is unchanged",
    reason: "provisioning an encrypted volume should not need a hand-made secret; keystore keys make volumes portable between hosts",
  },
  {
    id: "vol-delete-owned",
    command: "vol-delete VOL",
    virsh: "removes the file only; the volume's secret stays defined (verified: `secret-list` still shows it)",
    virsecret:
      "also undefines the secret vol-create generated for the volume and deletes the keystore key (the --key-id clone or the created key) it owns, idempotently; a secret the user named in the XML is left alone, as virsh does",
    reason: "a generated secret or cloned key has no other owner; leaving it would leak one key per deleted volume",
  },
  {
    id: "vol-key-check",
    command: "vol-key-check VOL",
    virsh: "`error: unknown command: 'vol-key-check'`",
    virsecret:
      "opens the encrypted volume with its secret (qemu-img check for qcow2, qemu-io for raw LUKS) and prints `Vol NAME opens with secret UUID`, or fails naming the secret",
    reason: "a cheap proof that a volume and its secret still belong together, before a guest needs it",
  },
  {
    id: "vol-permissions",
    command: "vol-create FILE (<permissions>)",
    virsh: "the new file gets <permissions><mode> (default 0600) and is chowned to <owner>/<group> (or the daemon's qemu user)",
    virsecret: "the new file gets <permissions><mode>, default 0600; owner and group are never changed (the file belongs to the invoking user)",
    reason: "virsecret runs as the invoking user, who may not chown files",
  },
  {
    id: "vol-lookup-errors",
    command: "vol-delete, vol-dumpxml, vol-info, vol-key-check VOL",
    virsh:
      "tries VOL as a name in the pool, then as a key, then as a path, and prints the last failure (`no storage vol with matching path 'VOL'`); vol-create with a wrong-type secret found by usage prints an uninitialised uuid in `secret with uuid ... is of type ...`",
    virsecret:
      "VOL with a `/` is a path, otherwise a name in the pool: `error: failed to get vol 'VOL'` then `no storage vol with matching name 'VOL'` (or `matching path`); a key is the path; the wrong-type error names the secret's real uuid",
    reason: "in a dir pool a volume's key is its path, so the three lookups collapse into two; the uuid garbage is a libvirt bug",
  },
  {
    id: "key-commands",
    command: "key-create, key-store, key-get, key-delete, key-copy, key-list (--keystore CONFIG.xml --user U --project P), secret-bind-key, secret-unbind-key",
    virsh: "`error: unknown command: '<name>'` (libvirt has no keystore)",
    virsecret:
      "manage keys in the keystore a <keystore> XML file configures (local, KMIP or Barbican), acting for --user/--project; secret-bind-key makes a secret's value the keystore key's (lowercase hex of its bytes, or a passphrase's text), read on every use and never stored",
    reason: "the OpenStack key-manager contract (castellan) for hosts sharing keys; key bytes are printed by key-get only",
  },
  {
    id: "master-key-commands",
    command: "wrap-master-key --keystore CONFIG.xml --key-id ID [--user U --project P]; rekey and every command on a wrapped root",
    virsh: "`error: unknown command: 'wrap-master-key'`; libvirt 12 reads its secrets-encryption-key from a file or systemd credential only",
    virsecret:
      "re-seals every value under a new master key kept only wrapped by the keystore key (master.key.wrapped, recording the config file's absolute path and the context) and removes master.key; later commands open the root through that keystore by themselves, and `rekey` re-wraps under the same key. A root without its keystore does not open",
    reason: "a stolen disk (or an old copy of master.key) must hold nothing that opens the values",
  },
  {
    id: "export-bound-secrets",
    command: "export-libvirt DIR (secrets bound with secret-bind-key)",
    virsh: "(virsecret's own command) libvirt has no keystore-bound secrets: every value lives in <uuid>.base64",
    virsecret:
      "a bound secret's <uuid>.xml is written, its value is not (a stale <uuid>.base64 is removed): `Secret UUID exported without value: bound to keystore key ID, value not exported`; the keystore is not asked, so a deleted key does not fail the export",
    reason: "a copied libvirt directory must not carry keystore-held keys in base64; the value stays where its owner put it",
  },
];

/** Look up one deviation by id (throws on an unknown id: a typo in a test must fail). */
export function deviation(id: string): Deviation {
  const d = DEVIATIONS.find((x) => x.id === id);
  if (!d) throw new Error(`unknown deviation id '${id}'`);
  return d;
}
