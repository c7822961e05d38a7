// Checked, normalised Barbican settings: the <keystore type='barbican'> config
// plus the knobs only code sets (retries, create path). Everything that can be
// wrong with a config is reported here, at open, before any request.
import { readFile } from "node:fs/promises";
import { type BarbicanAuthConfig, type BarbicanKeystoreConfig, KEYSTORE_DEFAULT_TIMEOUT_MS, KEYSTORE_MAX_TIMEOUT_MS } from "../config.js";
import { KeyManagerError } from "../key-manager.js";

/** How createKey makes a key: a client-generated payload, or a server-side order. */
export type BarbicanCreateVia = "secret" | "order";

/** What openBarbicanKeystore accepts: the parsed XML config, with code-only extras. */
export type BarbicanKeystoreOptions = Omit<BarbicanKeystoreConfig, "type" | "timeoutMs"> & {
  readonly type?: "barbican";
  /** deadline of one HTTP request including its retries (default 30000 ms) */
  readonly timeoutMs?: number;
  /** extra attempts for idempotent requests (GET, DELETE) after a connection failure or 500/502/503/504; default 3 */
  readonly retries?: number;
  /** default 'secret' (one POST); 'order' makes Barbican generate the key */
  readonly createVia?: BarbicanCreateVia;
  /**
   * Writes (POST, DELETE) in flight at once; default 1. Barbican on sqlite
   * fails overlapping writes with 500 "database is locked"; raise it for a
   * Barbican on MySQL/PostgreSQL.
   */
  readonly maxConcurrentWrites?: number;
};

/** TLS material read from disk (the config names files, never inlines PEM). */
export interface BarbicanTLSMaterial {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly minVersion?: "TLSv1.2" | "TLSv1.3";
  readonly maxVersion?: "TLSv1.2" | "TLSv1.3";
}

export interface BarbicanSettings {
  /** API root without a trailing slash, e.g. http://127.0.0.1:9311/v1 */
  readonly endpoint: URL;
  /** the endpoint as shown in errors: no userinfo, no trailing slash */
  readonly endpointLabel: string;
  readonly auth: BarbicanAuthConfig;
  readonly tls?: BarbicanTLSMaterial;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly createVia: BarbicanCreateVia;
  readonly maxConcurrentWrites: number;
}

export const BARBICAN_DEFAULT_RETRIES = 3;
const MAX_RETRIES = 10;
const MAX_CONCURRENT_WRITES = 64;

function bad(what: string): KeyManagerError {
  return new KeyManagerError(`invalid Barbican keystore configuration: ${what}`);
}

/** A URL for error texts: scheme, host, port and path only (no credentials, no query). */
export function urlLabel(u: URL): string {
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, "")}`;
}

/** Parse and check an http(s) URL from the config. */
export function parseHttpUrl(text: unknown, field: string): URL {
  if (typeof text !== "string" || text === "") throw bad(`${field} is missing`);
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw bad(`${field} is not a URL`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw bad(`${field} must be an http or https URL, not ${u.protocol}`);
  if (u.username || u.password) throw bad(`${field} must not carry credentials (use the auth block)`);
  if (u.search || u.hash) throw bad(`${field} must not have a query or fragment`);
  return u;
}

async function readConfigFile(path: unknown, field: string): Promise<Buffer> {
  if (typeof path !== "string" || path === "") throw bad(`${field} must be a file path`);
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "error";
    throw new KeyManagerError(`invalid Barbican keystore configuration: cannot read ${field} file ${path} (${code})`, { cause: e });
  }
}

function checkAuth(auth: BarbicanAuthConfig | undefined): BarbicanAuthConfig {
  if (!auth || typeof auth !== "object") throw bad("auth is missing");
  switch (auth.type) {
    case "noauth":
      return auth;
    case "token":
      if (auth.tokenFile !== undefined && (typeof auth.tokenFile !== "string" || auth.tokenFile === "")) {
        throw bad("auth tokenFile must be a file path");
      }
      return auth;
    case "keystone":
      parseHttpUrl(auth.url, "keystone url");
      for (const f of ["username", "passwordFile", "project"] as const) {
        if (typeof auth[f] !== "string" || auth[f] === "") throw bad(`keystone ${f} is missing`);
      }
      return auth;
    default:
      throw bad(`unknown auth type '${String((auth as { type?: unknown }).type)}'`);
  }
}

/** Validate options and load TLS files; throws KeyManagerError naming the bad field. */
export async function loadBarbicanSettings(opts: BarbicanKeystoreOptions): Promise<BarbicanSettings> {
  if (!opts || typeof opts !== "object") throw bad("no configuration given");
  if (opts.type !== undefined && opts.type !== "barbican") throw bad(`type is '${String(opts.type)}', not 'barbican'`);
  const endpoint = parseHttpUrl(opts.endpoint, "endpoint");
  // Accept both the service root and the versioned root: castellan keeps them apart, users mix them up.
  const path = endpoint.pathname.replace(/\/+$/, "");
  endpoint.pathname = /\/v1$/.test(path) ? path : `${path}/v1`;

  const timeoutMs = opts.timeoutMs ?? KEYSTORE_DEFAULT_TIMEOUT_MS;
  if (typeof timeoutMs !== "number" || !Number.isInteger(timeoutMs) || timeoutMs <= 0 || timeoutMs > KEYSTORE_MAX_TIMEOUT_MS) {
    throw bad(`timeoutMs must be an integer in 1..${KEYSTORE_MAX_TIMEOUT_MS}`);
  }
  const retries = opts.retries ?? BARBICAN_DEFAULT_RETRIES;
  if (typeof retries !== "number" || !Number.isInteger(retries) || retries < 0 || retries > MAX_RETRIES) {
    throw bad(`retries must be an integer in 0..${MAX_RETRIES}`);
  }
  const createVia = opts.createVia ?? "secret";
  if (createVia !== "secret" && createVia !== "order") throw bad(`createVia must be 'secret' or 'order'`);
  const maxConcurrentWrites = opts.maxConcurrentWrites ?? 1;
  if (typeof maxConcurrentWrites !== "number" || !Number.isInteger(maxConcurrentWrites) || maxConcurrentWrites < 1 || maxConcurrentWrites > MAX_CONCURRENT_WRITES) {
    throw bad(`maxConcurrentWrites must be an integer in 1..${MAX_CONCURRENT_WRITES}`);
  }
  const auth = checkAuth(opts.auth);

  let tls: BarbicanTLSMaterial | undefined;
  if (opts.tls) {
    if (endpoint.protocol !== "https:") throw bad("tls is set but the endpoint is not https");
    const t = opts.tls;
    if ((t.cert === undefined) !== (t.key === undefined)) throw bad("tls cert and key go together");
    const version = t.version === undefined ? undefined : t.version === "1.2" ? "TLSv1.2" : t.version === "1.3" ? "TLSv1.3" : null;
    if (version === null) throw bad(`tls version must be 1.2 or 1.3`);
    tls = {
      ...(t.ca !== undefined ? { ca: await readConfigFile(t.ca, "tls ca") } : {}),
      ...(t.cert !== undefined ? { cert: await readConfigFile(t.cert, "tls cert") } : {}),
      ...(t.key !== undefined ? { key: await readConfigFile(t.key, "tls key") } : {}),
      ...(version ? { minVersion: version, maxVersion: version } : {}),
    };
  }
  // Fail at open when a credential file is unreadable, not at the first request.
  if (auth.type === "token" && auth.tokenFile !== undefined) await readConfigFile(auth.tokenFile, "auth token");
  if (auth.type === "keystone") await readConfigFile(auth.passwordFile, "keystone password");

  return { endpoint, endpointLabel: urlLabel(endpoint), auth, ...(tls ? { tls } : {}), timeoutMs, retries, createVia, maxConcurrentWrites };
}
