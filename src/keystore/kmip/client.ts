// KMIP client over mutual TLS. One outstanding request per connection; a
// small pool of connections reused across requests (a new TLS handshake
// costs ~5x a request on PyKMIP) and closed after an idle timeout. A request
// that fails because its connection broke is retried once on a fresh
// connection, but only for operations that are safe to repeat (reads), since
// a Create or Register may have been executed before the connection broke.

import tls from "node:tls";
import type { ProtocolVersion } from "./attributes.js";
import { Operation, operationName, resultReasonName, ResultStatus, RevocationReasonCode } from "./enums.js";
import { KmipMessageError } from "./fields.js";
import { FrameReader } from "./framing.js";
import * as M from "./messages.js";
import type { KmipAttributes } from "./attributes.js";
import { decodeTtlv, DEFAULT_MAX_BYTES, encodeTtlv, TtlvError, type StructureItem } from "./ttlv.js";

export interface KmipClientOptions {
  readonly host: string;
  readonly port: number;
  /** PEM: the CA that signs the server certificate */
  readonly ca: string | Buffer;
  /** PEM: our client certificate and key; the certificate's CN is our KMIP identity */
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** name the server certificate must match; default `host` */
  readonly servername?: string;
  /** pin the TLS version; default TLS 1.2 or 1.3 */
  readonly tlsVersion?: "TLSv1.2" | "TLSv1.3";
  /** skip Discover Versions and speak this version */
  readonly protocolVersion?: ProtocolVersion;
  /** optional KMIP Credential (PyKMIP ignores it) */
  readonly credential?: { readonly username: string; readonly password?: string };
  /** connections kept; default 4 */
  readonly poolSize?: number;
  /** close a connection unused this long; default 30 s */
  readonly idleTimeoutMs?: number;
  /** per request, connect included; default 30 s */
  readonly timeoutMs?: number;
  /** largest response accepted; default 1 MiB */
  readonly maxMessageBytes?: number;
}

/** The versions we speak, preferred first. 1.x first: PyKMIP's own client and most appliances default to it. */
export const CLIENT_VERSIONS: readonly ProtocolVersion[] = [
  { major: 1, minor: 4 },
  { major: 1, minor: 3 },
  { major: 1, minor: 2 },
  { major: 1, minor: 1 },
  { major: 1, minor: 0 },
  { major: 2, minor: 0 },
];

/**
 * ECDHE suites only, so PyKMIP (which prefers plain-RSA AES128-SHA256 when
 * offered) negotiates forward secrecy; TLS 1.3 suites are always ECDHE.
 */
export const TLS12_CIPHERS = [
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
  "ECDHE-ECDSA-AES256-SHA384",
  "ECDHE-RSA-AES256-SHA384",
  "ECDHE-ECDSA-AES128-SHA256",
  "ECDHE-RSA-AES128-SHA256",
].join(":");
export const TLS13_CIPHERS = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256";

/** The server answered Operation Failed (or another non-success status). */
export class KmipResultError extends Error {
  readonly operation: number;
  readonly resultStatus: number;
  readonly resultReason?: number;
  readonly resultMessage?: string;
  constructor(operation: number, status: number, reason?: number, message?: string) {
    super(
      `KMIP ${operationName(operation)} failed: ${reason !== undefined ? resultReasonName(reason) : `status ${status}`}` +
        (message ? ` (${message})` : ""),
    );
    this.name = "KmipResultError";
    this.operation = operation;
    this.resultStatus = status;
    this.resultReason = reason;
    this.resultMessage = message;
  }
}

/** The connection failed, timed out, or the peer sent something that is not a KMIP response. */
export class KmipTransportError extends Error {
  /** true when the request may be retried on a new connection */
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "KmipTransportError";
    this.retryable = retryable;
  }
}

/** Operations that read only, so repeating one after a broken connection changes nothing. */
const IDEMPOTENT = new Set<number>([Operation.Get, Operation.GetAttributes, Operation.GetAttributeList, Operation.Locate, Operation.Query, Operation.DiscoverVersions]);

class Connection {
  private reader: FrameReader;
  private pending: { resolve: (b: Buffer) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | undefined;
  closed = false;
  /** at least one request completed on it, i.e. it was reused from the pool */
  used = false;
  idleTimer: NodeJS.Timeout | undefined;

  private constructor(private readonly socket: tls.TLSSocket, maxBytes: number) {
    this.reader = new FrameReader(maxBytes);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (e) => this.fail(new KmipTransportError(`KMIP connection error: ${e.message}`, true, { cause: e })));
    socket.on("close", () => this.fail(new KmipTransportError("KMIP server closed the connection", true)));
  }

  static open(o: KmipClientOptions, timeoutMs: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        host: o.host,
        port: o.port,
        ca: o.ca,
        cert: o.cert,
        key: o.key,
        servername: o.servername ?? (isIp(o.host) ? undefined : o.host),
        minVersion: o.tlsVersion ?? "TLSv1.2",
        maxVersion: o.tlsVersion ?? "TLSv1.3",
        ciphers: `${TLS13_CIPHERS}:${TLS12_CIPHERS}`,
        rejectUnauthorized: true,
      });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new KmipTransportError(`KMIP connect to ${o.host}:${o.port} timed out after ${timeoutMs} ms`, false));
      }, timeoutMs);
      const onError = (e: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(new KmipTransportError(`KMIP TLS connection to ${o.host}:${o.port} failed: ${e.message}`, false, { cause: e }));
      };
      socket.once("error", onError);
      socket.once("secureConnect", () => {
        clearTimeout(timer);
        socket.off("error", onError);
        socket.setNoDelay(true);
        resolve(new Connection(socket, o.maxMessageBytes ?? DEFAULT_MAX_BYTES));
      });
    });
  }

  send(frame: Buffer, timeoutMs: number): Promise<Buffer> {
    if (this.closed) return Promise.reject(new KmipTransportError("KMIP connection is closed", true));
    if (this.pending) return Promise.reject(new KmipTransportError("KMIP connection is busy", false));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new KmipTransportError(`KMIP request timed out after ${timeoutMs} ms`, false));
        this.close();
      }, timeoutMs);
      this.pending = { resolve, reject, timer };
      this.socket.write(frame);
    });
  }

  private onData(chunk: Buffer): void {
    let frames: Buffer[];
    try {
      frames = this.reader.push(chunk);
    } catch (e) {
      this.fail(new KmipTransportError(`KMIP server sent a malformed message: ${(e as Error).message}`, false, { cause: e }));
      this.close();
      return;
    }
    for (const f of frames) {
      const p = this.pending;
      if (!p) {
        // a response nobody asked for: the stream is out of step
        this.fail(new KmipTransportError("KMIP server sent an unsolicited message", false));
        this.close();
        return;
      }
      this.pending = undefined;
      clearTimeout(p.timer);
      this.used = true;
      p.resolve(f);
    }
  }

  private fail(e: KmipTransportError): void {
    this.closed = true;
    const p = this.pending;
    this.pending = undefined;
    if (p) {
      clearTimeout(p.timer);
      // a request on a connection that never served one is not a stale-pool failure
      p.reject(this.used ? e : new KmipTransportError(e.message, false, { cause: e.cause }));
    }
  }

  close(): void {
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.socket.destroy();
  }
}

interface Waiter {
  readonly deadline: number;
  /** hand over a connection (or the error that ends the wait) */
  readonly grant: (c: Connection | Error) => void;
}

const isIp = (h: string): boolean => /^[\d.]+$/.test(h) || h.includes(":");

export class KmipClient {
  private readonly idle: Connection[] = [];
  /** calls waiting for a pool slot, each with its own deadline */
  private readonly waiters: Waiter[] = [];
  private open = 0;
  private closed = false;
  private version: Promise<ProtocolVersion> | undefined;
  private readonly poolSize: number;
  private readonly idleTimeoutMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly opts: KmipClientOptions) {
    this.poolSize = Math.max(1, opts.poolSize ?? 4);
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 30_000;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    if (opts.protocolVersion) this.version = Promise.resolve(opts.protocolVersion);
  }

  /** The protocol version in use, negotiated with Discover Versions on first use. */
  protocolVersion(): Promise<ProtocolVersion> {
    if (!this.version) {
      const p = this.negotiate();
      // a failed negotiation (server down) is retried by the next request
      p.catch(() => {
        if (this.version === p) this.version = undefined;
      });
      this.version = p;
    }
    return this.version;
  }

  private async negotiate(): Promise<ProtocolVersion> {
    try {
      const got = await this.discoverVersions(CLIENT_VERSIONS, { major: 1, minor: 1 });
      const pick = got.find((g) => CLIENT_VERSIONS.some((c) => c.major === g.major && c.minor === g.minor));
      return pick ?? { major: 1, minor: 0 };
    } catch (e) {
      // a KMIP 1.0 server has no Discover Versions
      if (e instanceof KmipResultError) return { major: 1, minor: 0 };
      throw e;
    }
  }

  /** Send one batch item and return its response payload (empty structure if none). */
  async call(operation: number, payload: (v: ProtocolVersion) => StructureItem, version?: ProtocolVersion): Promise<StructureItem> {
    if (this.closed) throw new KmipTransportError("KMIP client is closed", false);
    const v = version ?? (await this.protocolVersion());
    const frame = encodeTtlv(
      M.encodeRequestMessage({
        header: { protocolVersion: v, authentication: this.opts.credential },
        batchItems: [{ operation, payload: payload(v) }],
      }),
    );
    // one deadline for the whole call: waiting for a pool slot, connecting, the retry
    const deadline = Date.now() + this.timeoutMs;
    let bytes: Buffer;
    try {
      bytes = await this.roundTrip(frame, deadline);
    } catch (e) {
      if (e instanceof KmipTransportError && e.retryable && IDEMPOTENT.has(operation)) bytes = await this.roundTrip(frame, deadline);
      else throw e;
    }
    let resp: M.ResponseMessage;
    try {
      resp = M.parseResponseMessage(decodeTtlv(bytes, { maxBytes: this.opts.maxMessageBytes }));
    } catch (e) {
      if (e instanceof TtlvError || e instanceof KmipMessageError) {
        throw new KmipTransportError(`KMIP server sent an invalid response: ${e.message}`, false, { cause: e });
      }
      throw e;
    }
    if (resp.batchItems.length !== 1) throw new KmipTransportError(`KMIP response has ${resp.batchItems.length} batch items, expected 1`, false);
    const item = resp.batchItems[0];
    if (item.resultStatus !== ResultStatus.Success) {
      throw new KmipResultError(operation, item.resultStatus, item.resultReason, item.resultMessage);
    }
    if (item.operation !== undefined && item.operation !== operation) {
      throw new KmipTransportError(`KMIP response is for ${operationName(item.operation)}, expected ${operationName(operation)}`, false);
    }
    return item.payload ?? { tag: 0x42007c, type: "Structure", value: [] };
  }

  private async roundTrip(frame: Buffer, deadline: number): Promise<Buffer> {
    const conn = await this.acquire(deadline);
    try {
      const out = await conn.send(frame, this.remaining(deadline));
      this.release(conn);
      return out;
    } catch (e) {
      this.discard(conn);
      throw e;
    }
  }

  /** Milliseconds left before `deadline`; a KmipTransportError once it has passed. */
  private remaining(deadline: number): number {
    const ms = deadline - Date.now();
    if (ms <= 0) throw new KmipTransportError(`KMIP request timed out after ${this.timeoutMs} ms`, false);
    return ms;
  }

  private async acquire(deadline: number): Promise<Connection> {
    while (this.idle.length) {
      const c = this.idle.pop()!;
      if (c.idleTimer) clearTimeout(c.idleTimer);
      if (!c.closed) return c;
      this.open--;
    }
    if (this.open < this.poolSize) {
      this.open++;
      try {
        return await Connection.open(this.opts, this.remaining(deadline));
      } catch (e) {
        this.open--;
        this.wakeOne();
        throw e;
      }
    }
    const wait = this.remaining(deadline);
    const got = await new Promise<Connection | Error>((resolve) => {
      const w: Waiter = {
        deadline,
        grant: (c) => {
          clearTimeout(timer);
          resolve(c);
        },
      };
      const timer = setTimeout(() => {
        // already taken from the queue: a connection (or its error) is on its way
        const i = this.waiters.indexOf(w);
        if (i < 0) return;
        this.waiters.splice(i, 1);
        resolve(new KmipTransportError(`KMIP request timed out after ${this.timeoutMs} ms waiting for a free connection`, false));
      }, wait);
      this.waiters.push(w);
    });
    if (got instanceof Error) throw got;
    return got;
  }

  private release(c: Connection): void {
    if (c.closed || this.closed) return this.discard(c);
    const w = this.waiters.shift();
    if (w) return w.grant(c);
    c.idleTimer = setTimeout(() => {
      const i = this.idle.indexOf(c);
      if (i >= 0) this.idle.splice(i, 1);
      this.open--;
      c.close();
    }, this.idleTimeoutMs);
    c.idleTimer.unref();
    this.idle.push(c);
  }

  private discard(c: Connection): void {
    c.close();
    this.open--;
    this.wakeOne();
  }

  /** A slot freed: let one waiter open a connection of its own. */
  private wakeOne(): void {
    const w = this.waiters.shift();
    if (!w) return;
    if (this.closed) return w.grant(new KmipTransportError("KMIP client is closed", false));
    this.acquire(w.deadline).then(w.grant, (e: Error) => w.grant(e));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.idle.splice(0)) c.close();
    for (const w of this.waiters.splice(0)) w.grant(new KmipTransportError("KMIP client is closed", false));
  }

  // ---- operations ----

  async discoverVersions(offer: readonly ProtocolVersion[], headerVersion?: ProtocolVersion): Promise<ProtocolVersion[]> {
    const p = await this.call(Operation.DiscoverVersions, () => M.encodeDiscoverVersionsRequest(offer), headerVersion);
    return M.decodeDiscoverVersions(p);
  }

  async query(functions: readonly number[]): Promise<M.QueryResponse> {
    return M.decodeQueryResponse(await this.call(Operation.Query, () => M.encodeQueryRequest(functions)));
  }

  async create(objectType: number, attributes: KmipAttributes): Promise<string> {
    const p = await this.call(Operation.Create, (v) => M.encodeCreateRequest({ objectType, attributes }, v));
    return M.decodeCreateResponse(p).uniqueIdentifier;
  }

  async register(object: M.KmipObject, attributes: KmipAttributes): Promise<string> {
    return M.decodeUidResponse(await this.call(Operation.Register, (v) => M.encodeRegisterRequest({ object, attributes }, v)));
  }

  async get(uniqueIdentifier: string, keyFormatType?: number): Promise<M.GetResponse> {
    return M.decodeGetResponse(await this.call(Operation.Get, () => M.encodeGetRequest({ uniqueIdentifier, keyFormatType })));
  }

  async getAttributes(uniqueIdentifier: string, attributeNames: readonly string[] = []): Promise<KmipAttributes> {
    const p = await this.call(Operation.GetAttributes, (v) => M.encodeGetAttributesRequest({ uniqueIdentifier, attributeNames }, v));
    return M.decodeGetAttributesResponse(p).attributes;
  }

  async locate(req: M.LocateRequest): Promise<M.LocateResponse> {
    return M.decodeLocateResponse(await this.call(Operation.Locate, (v) => M.encodeLocateRequest(req, v)));
  }

  async activate(uniqueIdentifier: string): Promise<void> {
    await this.call(Operation.Activate, () => M.encodeUidRequest(uniqueIdentifier));
  }

  async revoke(uniqueIdentifier: string, revocationReasonCode: number = RevocationReasonCode.CessationOfOperation, revocationMessage?: string): Promise<void> {
    await this.call(Operation.Revoke, () => M.encodeRevokeRequest({ uniqueIdentifier, revocationReasonCode, revocationMessage }));
  }

  async destroy(uniqueIdentifier: string): Promise<void> {
    await this.call(Operation.Destroy, () => M.encodeUidRequest(uniqueIdentifier));
  }
}

