// The Barbican key-manager backend: the KeyManager contract over Barbican's
// REST API v1 (castellan's barbican driver, minus its gaps: we page through
// every list page, fold another project's 403 into KeyNotFound, and bound
// every request by a deadline).
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { BarbicanAuth } from "./barbican/auth.js";
import { type BarbicanCall, errorForStatus } from "./barbican/errors.js";
import { HttpClient, type HttpMethod, type HttpReply } from "./barbican/http.js";
import { DeadlineError, Limiter } from "./barbican/limiter.js";
import { type BarbicanKeystoreOptions, type BarbicanSettings, loadBarbicanSettings } from "./barbican/options.js";
import { readAllPages } from "./barbican/paging.js";
import {
  formatBarbicanTime,
  idFromRef,
  objectFromMetadata,
  type SecretMetadata,
  secretId,
  secretTypeOf,
} from "./barbican/secret-meta.js";
import {
  type Context,
  type CreateKeyOptions,
  type KeyManager,
  type KeyManagerSupports,
  type ListKeysFilter,
  type ManagedObject,
  type NewManagedObject,
  KeyManagerError,
  KeyNotFound,
} from "./key-manager.js";
import { checkCreateOptions, checkName, checkStoreArgs, requireContext } from "./util.js";

export type { BarbicanKeystoreOptions, BarbicanCreateVia } from "./barbican/options.js";

const JSON_TYPE = "application/json";
const OCTETS = "application/octet-stream";
/** Payload reads in flight at once while listing with values. */
const LIST_PAYLOAD_CONCURRENCY = 8;
/** Best-effort cleanup after a failed order gets this long, in the background. */
const CLEANUP_TIMEOUT_MS = 5_000;

interface SecretFields {
  readonly secret_type: string;
  readonly name?: string;
  readonly algorithm?: string;
  readonly bit_length?: number;
  readonly expiration?: number;
}

interface Send {
  readonly method: HttpMethod;
  readonly path: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly accept: string;
  readonly json?: unknown;
  readonly call: BarbicanCall;
  /** false when the request carries key material: never quote the server's answer to it */
  readonly quoteServer?: boolean;
  /** statuses that are not failures (besides 2xx) */
  readonly allow?: readonly number[];
}

// One write queue per endpoint (and slot count) for the whole process: two
// key managers on one sqlite Barbican (one per project, say) collide exactly
// like two writes of one manager, and a "database is locked" can leave the
// server's worker session failing later requests too.
const writeLimiters = new Map<string, Limiter>();
function sharedWriteLimiter(endpoint: string, slots: number): Limiter {
  const key = `${slots} ${endpoint}`;
  let l = writeLimiters.get(key);
  if (!l) writeLimiters.set(key, (l = new Limiter(slots)));
  return l;
}

export class BarbicanKeyManager implements KeyManager {
  readonly type = "barbican";
  /** Barbican enforces expiration itself (expired secrets answer 404 and leave listings). */
  readonly supports: KeyManagerSupports = { expiration: true, kinds: ["symmetric", "passphrase", "opaque"] };

  private readonly peer: string;
  private readonly http: HttpClient;
  private readonly auth: BarbicanAuth;
  private readonly writes: Limiter;
  private readonly cleanups = new Set<Promise<void>>();
  private closed = false;

  private constructor(private readonly settings: BarbicanSettings) {
    this.peer = `Barbican at ${settings.endpointLabel}`;
    const tls = settings.tls ? { tls: settings.tls } : {};
    this.http = new HttpClient(settings.endpoint.protocol === "https:", { ...tls, timeoutMs: settings.timeoutMs, retries: settings.retries });
    this.auth = new BarbicanAuth(settings.auth, { ...tls, timeoutMs: settings.timeoutMs });
    this.writes = sharedWriteLimiter(settings.endpoint.href, settings.maxConcurrentWrites);
  }

  /** Check the config and load its files; no request is sent until the first call. */
  static async open(opts: BarbicanKeystoreOptions): Promise<BarbicanKeyManager> {
    return new BarbicanKeyManager(await loadBarbicanSettings(opts));
  }

  /** The API root in use, e.g. http://127.0.0.1:9311/v1 (for logs and tests). */
  get endpoint(): string {
    return this.settings.endpointLabel;
  }

  async createKey(ctx: Context | null | undefined, opts?: CreateKeyOptions): Promise<string> {
    const c = this.enter(ctx);
    const o = checkCreateOptions(opts, Date.now() / 1000);
    const fields = { algorithm: o.algorithm, bit_length: o.length, ...(o.name !== undefined ? { name: o.name } : {}), ...(o.expiration !== undefined ? { expiration: o.expiration } : {}) };
    if (this.settings.createVia === "order") return this.createViaOrder(c, fields);
    const key = randomBytes(o.length / 8);
    try {
      return await this.postSecret(c, { secret_type: "symmetric", ...fields }, key);
    } finally {
      key.fill(0);
    }
  }

  async storeKey(ctx: Context | null | undefined, obj: NewManagedObject, opts?: { expiration?: number }): Promise<string> {
    const c = this.enter(ctx);
    const expiration = checkStoreArgs(obj, opts, this.supports, Date.now() / 1000);
    return this.postSecret(c, this.fieldsOf(obj, expiration), obj.value);
  }

  async getKey(ctx: Context | null | undefined, id: string, opts?: { metadataOnly?: boolean }): Promise<ManagedObject> {
    const c = this.enter(ctx);
    const sid = secretId(id);
    if (sid === null) throw new KeyNotFound(id);
    return this.readSecret(c, sid, id, opts?.metadataOnly === true);
  }

  async deleteKey(ctx: Context | null | undefined, id: string): Promise<void> {
    const c = this.enter(ctx);
    const sid = secretId(id);
    if (sid === null) throw new KeyNotFound(id);
    const reply = await this.send(c, { method: "DELETE", path: `secrets/${sid}`, accept: JSON_TYPE, call: { kind: "object", id }, allow: [404] });
    // 404 after a retry: our first DELETE went through and only its answer was lost.
    if (reply.status === 404 && reply.attempt === 1) throw new KeyNotFound(id);
  }

  async copyKey(ctx: Context | null | undefined, id: string): Promise<string> {
    const c = this.enter(ctx);
    const sid = secretId(id);
    if (sid === null) throw new KeyNotFound(id);
    const src = await this.readSecret(c, sid, id, false);
    const value = src.value!;
    try {
      // A copy must not outlive its source's expiry; one that expired meanwhile is gone.
      if (src.expiration !== undefined && src.expiration <= Date.now() / 1000) throw new KeyNotFound(id);
      // Copied as Barbican holds it, without storeKey's input checks: other clients may have stored odd metadata.
      const fields: SecretFields = {
        secret_type: secretTypeOf(src.kind),
        ...(src.name !== undefined ? { name: src.name } : {}),
        ...(src.algorithm !== undefined ? { algorithm: src.algorithm } : {}),
        ...(src.bitLength !== undefined ? { bit_length: src.bitLength } : {}),
        ...(src.expiration !== undefined ? { expiration: src.expiration } : {}),
      };
      return await this.postSecret(c, fields, value);
    } finally {
      value.fill(0);
    }
  }

  async listKeys(ctx: Context | null | undefined, filter?: ListKeysFilter): Promise<ManagedObject[]> {
    const c = this.enter(ctx);
    const f = filter ?? {};
    if (f.kind !== undefined && !this.supports.kinds.includes(f.kind)) {
      throw new KeyManagerError(`unknown managed object kind '${String(f.kind)}'`);
    }
    if (f.name !== undefined) checkName(f.name);
    const query: Record<string, string> = {};
    if (f.kind !== undefined) query.secret_type = secretTypeOf(f.kind);
    if (f.name !== undefined) query.name = f.name;

    const listed = await readAllPages(
      async (offset, limit) => {
        const reply = await this.send(c, {
          method: "GET",
          path: "secrets",
          query: { ...query, limit: String(limit), offset: String(offset) },
          accept: JSON_TYPE,
          call: { kind: "other" },
        });
        const page = this.json(reply, "GET /secrets") as { secrets?: unknown; next?: unknown };
        if (!Array.isArray(page.secrets)) throw new KeyManagerError(`${this.peer} sent a secret list without 'secrets'`);
        const items: { id: string; meta: SecretMetadata }[] = [];
        for (const meta of page.secrets as SecretMetadata[]) {
          const sid = idFromRef(meta?.secret_ref);
          if (sid !== null) items.push({ id: sid, meta });
        }
        return { items, ...(typeof page.next === "string" ? { next: page.next } : {}) };
      },
      (item) => item.id,
    );

    const now = Date.now() / 1000;
    // Barbican's name filter is SQL LIKE (so '%' and '_' match more) and its types
    // beyond ours read as opaque: filter again on exactly what the caller asked.
    const objects = listed
      .map(({ id, meta }) => objectFromMetadata(id, meta))
      .filter((o) => (f.kind === undefined || o.kind === f.kind) && (f.name === undefined || o.name === f.name))
      .filter((o) => o.expiration === undefined || o.expiration > now);
    if (f.metadataOnly) return objects;
    return this.withValues(c, objects);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.cleanups]);
    this.http.close();
    this.auth.close();
  }

  // ---- internals ----

  private enter(ctx: Context | null | undefined): Context {
    const c = requireContext(ctx);
    if (this.closed) throw new KeyManagerError(`the Barbican keystore at ${this.settings.endpointLabel} is closed`);
    return c;
  }

  private fieldsOf(obj: NewManagedObject, expiration: number | undefined): SecretFields {
    return {
      secret_type: secretTypeOf(obj.kind),
      ...(obj.name !== undefined ? { name: obj.name } : {}),
      ...(obj.kind === "symmetric" ? { algorithm: obj.algorithm!, bit_length: obj.bitLength ?? obj.value.length * 8 } : {}),
      ...(expiration !== undefined ? { expiration } : {}),
    };
  }

  /** POST /v1/secrets with the payload inline; the new id. */
  private async postSecret(ctx: Context, fields: SecretFields, value: Uint8Array): Promise<string> {
    const { expiration, ...rest } = fields;
    const body = {
      ...rest,
      ...(expiration !== undefined ? { expiration: formatBarbicanTime(expiration) } : {}),
      payload: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64"),
      payload_content_type: OCTETS,
      payload_content_encoding: "base64",
    };
    const reply = await this.send(ctx, { method: "POST", path: "secrets", accept: JSON_TYPE, json: body, call: { kind: "create" }, quoteServer: false });
    const id = idFromRef((this.json(reply, "POST /secrets") as { secret_ref?: unknown }).secret_ref) ?? idFromRef(reply.headers.location);
    if (id === null) throw new KeyManagerError(`${this.peer} answered POST /secrets without a usable secret_ref`);
    return id;
  }

  /** Metadata, then (unless metadataOnly) the payload. `shownId` is what the caller passed, for KeyNotFound. */
  private async readSecret(ctx: Context, sid: string, shownId: string, metadataOnly: boolean): Promise<ManagedObject> {
    const call: BarbicanCall = { kind: "object", id: shownId };
    const reply = await this.send(ctx, { method: "GET", path: `secrets/${sid}`, accept: JSON_TYPE, call });
    const meta = this.json(reply, "GET /secrets/{id}") as SecretMetadata & { content_types?: unknown };
    const bare = objectFromMetadata(shownId, meta);
    // Barbican hides expired secrets itself; this guards against clock skew between us and it.
    if (bare.expiration !== undefined && bare.expiration <= Date.now() / 1000) throw new KeyNotFound(shownId);
    if (metadataOnly) return bare;
    if (meta.content_types === undefined || meta.content_types === null) {
      throw new KeyManagerError(`Barbican secret ${sid} has no payload`);
    }
    const payload = await this.send(ctx, { method: "GET", path: `secrets/${sid}/payload`, accept: OCTETS, call });
    // A copy of our own: the reply buffer may be a slice of Node's shared pool.
    const value = new Uint8Array(payload.body);
    payload.body.fill(0);
    return { ...bare, value };
  }

  /** Payloads for listed objects; one deleted since the listing is dropped, as if listed a moment later. */
  private async withValues(ctx: Context, objects: ManagedObject[]): Promise<ManagedObject[]> {
    const out: (ManagedObject | null)[] = new Array<ManagedObject | null>(objects.length).fill(null);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < objects.length) {
        const i = next++;
        const o = objects[i]!;
        try {
          out[i] = await this.readSecret(ctx, o.id, o.id, false);
        } catch (e) {
          if (!(e instanceof KeyNotFound)) throw e;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(LIST_PAYLOAD_CONCURRENCY, objects.length) }, worker));
    return out.filter((o): o is ManagedObject => o !== null);
  }

  /** Server-side generation: POST an order, poll it to ACTIVE, keep the secret, drop the order. */
  private async createViaOrder(ctx: Context, fields: Omit<SecretFields, "secret_type">): Promise<string> {
    const { expiration, ...meta } = fields;
    const reply = await this.send(ctx, {
      method: "POST",
      path: "orders",
      accept: JSON_TYPE,
      json: { type: "key", meta: { ...meta, payload_content_type: OCTETS, ...(expiration !== undefined ? { expiration: formatBarbicanTime(expiration) } : {}) } },
      call: { kind: "create" },
    });
    const orderId = idFromRef((this.json(reply, "POST /orders") as { order_ref?: unknown }).order_ref) ?? idFromRef(reply.headers.location);
    if (orderId === null) throw new KeyManagerError(`${this.peer} answered POST /orders without a usable order_ref`);

    const deadline = Date.now() + this.settings.timeoutMs;
    let secret: string | null = null;
    try {
      for (let round = 0; ; round++) {
        const polled = await this.send(ctx, { method: "GET", path: `orders/${orderId}`, accept: JSON_TYPE, call: { kind: "other" } });
        const order = this.json(polled, "GET /orders/{id}") as {
          status?: unknown;
          secret_ref?: unknown;
          error_status_code?: unknown;
          error_reason?: unknown;
        };
        if (order.status === "ACTIVE") {
          secret = idFromRef(order.secret_ref);
          if (secret === null) throw new KeyManagerError(`${this.peer}: order ${orderId} is ACTIVE without a usable secret_ref`);
          break;
        }
        if (order.status === "ERROR") {
          throw new KeyManagerError(
            `${this.peer}: order ${orderId} failed (${String(order.error_status_code ?? "?")}): ${String(order.error_reason ?? "no reason given").slice(0, 200)}`,
          );
        }
        const delay = Math.min(1000, 50 * 2 ** round);
        if (Date.now() + delay >= deadline) {
          throw new KeyManagerError(`${this.peer}: order ${orderId} was not ACTIVE within ${this.settings.timeoutMs} ms`);
        }
        await sleep(delay);
      }
    } catch (e) {
      // Leave nothing half-done: the order (and a secret it may still produce) goes, in the background.
      this.cleanupLater(ctx, orderId);
      throw e;
    }
    // The order is only a receipt once the secret exists (castellan deletes it too); a failure here costs nothing.
    await this.send(ctx, { method: "DELETE", path: `orders/${orderId}`, accept: JSON_TYPE, call: { kind: "other" }, allow: [404] }).catch(() => undefined);
    return secret;
  }

  private cleanupLater(ctx: Context, orderId: string): void {
    const job = (async () => {
      const until = Date.now() + CLEANUP_TIMEOUT_MS;
      const opts = { accept: JSON_TYPE, call: { kind: "other" } as const, allow: [403, 404] };
      const polled = await this.send(ctx, { method: "GET", path: `orders/${orderId}`, ...opts }).catch(() => undefined);
      if (polled && polled.status === 200 && Date.now() < until) {
        const sid = idFromRef((JSON.parse(polled.body.toString("utf8")) as { secret_ref?: unknown }).secret_ref);
        if (sid !== null) await this.send(ctx, { method: "DELETE", path: `secrets/${sid}`, ...opts }).catch(() => undefined);
      }
      if (Date.now() < until) await this.send(ctx, { method: "DELETE", path: `orders/${orderId}`, ...opts }).catch(() => undefined);
    })().catch(() => undefined);
    this.cleanups.add(job);
    void job.finally(() => this.cleanups.delete(job));
  }

  private json(reply: HttpReply, what: string): unknown {
    try {
      const v: unknown = JSON.parse(reply.body.toString("utf8"));
      if (v === null || typeof v !== "object") throw new Error("not an object");
      return v;
    } catch (e) {
      throw new KeyManagerError(`${this.peer} sent a reply to ${what} that is not a JSON object`, { cause: e });
    }
  }

  /** One request on behalf of ctx; non-2xx (outside `allow`) becomes the mapped error. */
  private async send(ctx: Context, s: Send): Promise<HttpReply> {
    const url = new URL(`${this.settings.endpoint.href.replace(/\/+$/, "")}/${s.path}`);
    for (const [k, v] of Object.entries(s.query ?? {})) url.searchParams.set(k, v);
    const what = `${s.method} ${url.pathname}${url.search}`;
    for (let renewed = false; ; renewed = true) {
      const auth = await this.auth.headers(ctx);
      const headers: Record<string, string> = { ...auth.headers, Accept: s.accept };
      if (s.json !== undefined) headers["Content-Type"] = JSON_TYPE;
      // The deadline starts before a write queues for its slot, so a stuck server fails every queued write in time.
      const deadline = Date.now() + this.settings.timeoutMs;
      let release: (() => void) | undefined;
      if (s.method !== "GET") {
        try {
          release = await this.writes.acquire(deadline);
        } catch (e) {
          if (!(e instanceof DeadlineError)) throw e;
          throw new KeyManagerError(`${this.peer} did not answer within ${this.settings.timeoutMs} ms (${what}; queued behind earlier writes)`);
        }
      }
      let reply: HttpReply;
      try {
        reply = await this.http.request({
          method: s.method,
          url,
          headers,
          ...(s.json !== undefined ? { body: JSON.stringify(s.json) } : {}),
          peer: this.peer,
          deadline,
        });
      } finally {
        release?.();
      }
      if (reply.status >= 200 && reply.status < 300) return reply;
      if (s.allow?.includes(reply.status)) return reply;
      // A cached Keystone token revoked early: log in again once (401 means nothing was done).
      if (reply.status === 401 && auth.renewable !== undefined && !renewed) {
        this.auth.refused(auth.renewable);
        continue;
      }
      throw errorForStatus(reply, { peer: this.peer, what, call: s.call, quoteServer: s.quoteServer ?? true });
    }
  }
}

/** Open the Barbican backend described by a `<keystore type='barbican'>` config. */
export async function openBarbicanKeystore(cfg: BarbicanKeystoreOptions): Promise<KeyManager> {
  return BarbicanKeyManager.open(cfg);
}
