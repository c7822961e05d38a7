// The access-check hook, called with libvirt's permission names (spec §2.9).
// As libvirt's access manager does, any denial, and any error thrown by the
// hook, becomes the one generic VIR_ERR_ACCESS_DENIED so callers learn nothing
// about why.
import { VirError } from "../errors.js";
import type { AccessCheck, ConnectPermission, SecretPermission } from "./api.js";
import type { SecretDef } from "./def.js";

const DRIVER_NAME = "secret";

function denied(): VirError {
  return new VirError("ACCESS_DENIED", `'${DRIVER_NAME}' denied access`);
}

function allowed(hook: AccessCheck, req: Parameters<AccessCheck>[0]): boolean {
  try {
    return hook(req) === true;
  } catch {
    return false;
  }
}

export class AccessControl {
  constructor(private readonly hook: AccessCheck | undefined) {}

  /** Throw ACCESS_DENIED unless every permission is granted on `def`. */
  ensureSecret(def: SecretDef, ...perms: SecretPermission[]): void {
    if (this.hook === undefined) return;
    for (const perm of perms) {
      if (!allowed(this.hook, { object: "secret", perm, def })) throw denied();
    }
  }

  ensureConnect(perm: ConnectPermission): void {
    if (this.hook === undefined) return;
    if (!allowed(this.hook, { object: "connect", perm })) throw denied();
  }

  /** List and event filters: a secret the caller may not `getattr` is silently left out. */
  canSee(def: SecretDef): boolean {
    return this.hook === undefined || allowed(this.hook, { object: "secret", perm: "getattr", def });
  }

  get active(): boolean {
    return this.hook !== undefined;
  }
}
