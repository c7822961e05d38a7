// Who a Barbican request speaks for. No-auth Barbican takes the tenant from
// X-Project-Id (plus X-User-Id / X-Roles); a Keystone-fronted one wants
// X-Auth-Token: the caller's own token first, else the configured one.
import { readFile } from "node:fs/promises";
import type { BarbicanAuthConfig } from "../config.js";
import { type Context, KeyManagerError, NotAuthorized } from "../key-manager.js";
import { KeystoneSession } from "./keystone.js";
import type { BarbicanTLSMaterial } from "./options.js";

export interface AuthHeaders {
  readonly headers: Readonly<Record<string, string>>;
  /** the service token used, when a refusal (401) should make us log in again */
  readonly renewable?: string;
}

/** Header values may not hold CR/LF/NUL (request smuggling) or non-Latin-1 text. */
const HEADER_SAFE = /^[\x20-\x7e\x80-\xff]*$/;

function headerValue(v: string, what: string): string {
  if (!HEADER_SAFE.test(v)) throw new KeyManagerError(`the context ${what} holds characters an HTTP header cannot carry`);
  return v;
}

export class BarbicanAuth {
  private readonly keystone: KeystoneSession | undefined;

  constructor(
    private readonly cfg: BarbicanAuthConfig,
    opts: { tls?: BarbicanTLSMaterial; timeoutMs: number },
  ) {
    this.keystone = cfg.type === "keystone" ? new KeystoneSession(cfg, opts) : undefined;
  }

  /** Headers for one request on behalf of ctx (already known non-null). */
  async headers(ctx: Context): Promise<AuthHeaders> {
    if (this.cfg.type === "noauth") {
      // Without a project Barbican answers 400 "Missing X-Project-Id": a caller with no tenant may do nothing.
      if (typeof ctx.project !== "string" || ctx.project === "") throw new NotAuthorized();
      const h: Record<string, string> = { "X-Project-Id": headerValue(ctx.project, "project") };
      if (typeof ctx.user === "string" && ctx.user !== "") h["X-User-Id"] = headerValue(ctx.user, "user");
      if (ctx.roles !== undefined) {
        if (!Array.isArray(ctx.roles) || ctx.roles.some((r) => typeof r !== "string" || r === "" || r.includes(","))) {
          throw new KeyManagerError("the context roles must be non-empty strings without commas");
        }
        h["X-Roles"] = headerValue(ctx.roles.join(","), "roles");
      }
      return { headers: h };
    }
    if (typeof ctx.token === "string" && ctx.token !== "") return { headers: { "X-Auth-Token": headerValue(ctx.token, "token") } };
    if (this.cfg.type === "token") {
      if (this.cfg.tokenFile === undefined) throw new NotAuthorized();
      // Read on every call: token files get rotated under a running service.
      let token: string;
      try {
        token = (await readFile(this.cfg.tokenFile, "utf8")).trim();
      } catch (e) {
        throw new KeyManagerError(`cannot read the Barbican token file ${this.cfg.tokenFile} (${(e as NodeJS.ErrnoException).code ?? "error"})`, { cause: e });
      }
      if (token === "") throw new KeyManagerError(`the Barbican token file ${this.cfg.tokenFile} is empty`);
      if (!HEADER_SAFE.test(token)) throw new KeyManagerError(`the Barbican token file ${this.cfg.tokenFile} holds characters an HTTP header cannot carry`);
      return { headers: { "X-Auth-Token": token } };
    }
    const token = await this.keystone!.token();
    return { headers: { "X-Auth-Token": headerValue(token, "Keystone token") }, renewable: token };
  }

  /** Barbican said 401 to this service token: drop it so the next call logs in again. */
  refused(token: string): void {
    this.keystone?.invalidate(token);
  }

  close(): void {
    this.keystone?.close();
  }
}
