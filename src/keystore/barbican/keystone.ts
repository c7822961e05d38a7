// Keystone v3 password login for the Barbican backend: POST /v3/auth/tokens,
// the token from X-Subject-Token, cached until shortly before expires_at.
// One login at a time; callers waiting for a token share it.
import { readFile } from "node:fs/promises";
import { KeyManagerError, NotAuthorized } from "../key-manager.js";
import { HttpClient } from "./http.js";
import { type BarbicanTLSMaterial, urlLabel } from "./options.js";

export interface KeystonePasswordAuth {
  readonly url: string;
  readonly username: string;
  readonly passwordFile: string;
  readonly userDomain?: string;
  readonly project: string;
  readonly projectDomain?: string;
}

/** Renew this long before Keystone's expires_at, so a token never expires in flight. */
const EXPIRY_MARGIN_MS = 60_000;

export class KeystoneSession {
  private readonly tokensUrl: URL;
  private readonly peer: string;
  private readonly http: HttpClient;
  private cached: { token: string; renewAt: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(
    private readonly auth: KeystonePasswordAuth,
    opts: { tls?: BarbicanTLSMaterial; timeoutMs: number },
    private readonly now: () => number = Date.now,
  ) {
    const base = new URL(auth.url);
    const path = base.pathname.replace(/\/+$/, "");
    base.pathname = `${/\/v3$/.test(path) ? path : `${path}/v3`}/auth/tokens`;
    this.tokensUrl = base;
    this.peer = `Keystone at ${urlLabel(new URL(auth.url))}`;
    this.http = new HttpClient(base.protocol === "https:", { ...(opts.tls ? { tls: opts.tls } : {}), timeoutMs: opts.timeoutMs, retries: 0 });
  }

  /** A valid token: the cached one, or a fresh login. */
  async token(): Promise<string> {
    if (this.cached && this.now() < this.cached.renewAt) return this.cached.token;
    this.pending ??= this.login().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** Forget a token Barbican refused (revoked before its expiry). */
  invalidate(token: string): void {
    if (this.cached?.token === token) this.cached = undefined;
  }

  close(): void {
    this.http.close();
  }

  private async login(): Promise<string> {
    let password: string;
    try {
      password = (await readFile(this.auth.passwordFile, "utf8")).replace(/\r?\n$/, "");
    } catch (e) {
      throw new KeyManagerError(`cannot read the Keystone password file ${this.auth.passwordFile} (${(e as NodeJS.ErrnoException).code ?? "error"})`, { cause: e });
    }
    const body = JSON.stringify({
      auth: {
        identity: {
          methods: ["password"],
          password: { user: { name: this.auth.username, domain: { name: this.auth.userDomain ?? "Default" }, password } },
        },
        scope: { project: { name: this.auth.project, domain: { name: this.auth.projectDomain ?? "Default" } } },
      },
    });
    const reply = await this.http.request({
      method: "POST",
      url: this.tokensUrl,
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body,
      peer: this.peer,
    });
    if (reply.status === 401 || reply.status === 403) {
      // The reason goes in the cause: NotAuthorized's own text is fixed.
      throw new NotAuthorized({
        cause: new KeyManagerError(`${this.peer} refused the login of user '${this.auth.username}' to project '${this.auth.project}' (${reply.status})`),
      });
    }
    if (reply.status !== 201 && reply.status !== 200) {
      throw new KeyManagerError(`${this.peer} answered ${reply.status} ${reply.statusText} to the token request`);
    }
    const header = reply.headers["x-subject-token"];
    const token = Array.isArray(header) ? header[0] : header;
    if (!token) throw new KeyManagerError(`${this.peer} answered without an X-Subject-Token header`);
    let expiresAt = Number.NaN;
    try {
      const parsed = JSON.parse(reply.body.toString("utf8")) as { token?: { expires_at?: unknown } };
      if (typeof parsed.token?.expires_at === "string") expiresAt = Date.parse(parsed.token.expires_at);
    } catch {
      // no usable body: treat the token as single-use below
    }
    const now = this.now();
    // Unknown expiry: use the token once. Renew a minute early, or at half-life for short tokens.
    const renewAt = Number.isNaN(expiresAt) ? now : expiresAt - Math.min(EXPIRY_MARGIN_MS, Math.max(0, (expiresAt - now) / 2));
    this.cached = { token, renewAt };
    return token;
  }
}
