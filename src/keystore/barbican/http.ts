// The HTTP transport of the Barbican backend (also used for the Keystone
// login): node:http/https with one deadline per logical request, retries with
// backoff for idempotent methods only, and failures turned into
// KeyManagerErrors that name the peer, never a request or response body.
import * as http from "node:http";
import * as https from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { KeyManagerError } from "../key-manager.js";
import type { BarbicanTLSMaterial } from "./options.js";

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE";

export interface HttpRequest {
  readonly method: HttpMethod;
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
  /** who we talk to, for error texts: "Barbican at http://host:9311/v1" */
  readonly peer: string;
  /** epoch ms; a deadline set earlier (time spent queueing counts); never later than now + timeoutMs */
  readonly deadline?: number;
}

export interface HttpReply {
  readonly status: number;
  readonly statusText: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  /** 1 on the first try; >1 when earlier attempts failed (a DELETE retried after a lost answer may see 404) */
  readonly attempt: number;
}

export interface HttpClientOptions {
  readonly tls?: BarbicanTLSMaterial;
  /** deadline of one request, all attempts and backoff included */
  readonly timeoutMs: number;
  /** extra attempts for GET/PUT/DELETE */
  readonly retries: number;
  /** first backoff delay; doubles per attempt (default 100 ms) */
  readonly backoffMs?: number;
}

/** Larger answers are cut off: Barbican's biggest legitimate reply is a 100-item list page. */
const MAX_REPLY_BYTES = 8 * 1024 * 1024;
/** Connection failures worth another attempt: the server may come back, or a pooled socket went stale. */
const RETRYABLE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "ETIMEDOUT"]);
/** 500 included: Barbican on sqlite answers 500 "database is locked" to overlapping writes; GET/DELETE may repeat. */
const RETRYABLE_STATUS = new Set([500, 502, 503, 504]);

/** The request's deadline passed. */
class DeadlineExceeded extends Error {}

export class HttpClient {
  readonly timeoutMs: number;
  readonly retries: number;
  private readonly backoffMs: number;
  /**
   * Pooled sockets for idempotent calls; a stale socket costs one retry.
   * Barbican's wsgiref server answers HTTP/1.0 without keep-alive, so Node
   * closes every connection after its answer (checked: reusedSocket is never
   * true there); pooling pays off only behind an HTTP/1.1 proxy or uWSGI.
   */
  private readonly pooled: http.Agent;
  /** A fresh connection per POST: a non-idempotent request must never meet a socket the server already closed. */
  private readonly fresh: http.Agent;
  private readonly secure: boolean;

  constructor(secure: boolean, opts: HttpClientOptions) {
    this.secure = secure;
    this.timeoutMs = opts.timeoutMs;
    this.retries = opts.retries;
    this.backoffMs = opts.backoffMs ?? 100;
    const tls = opts.tls ?? {};
    const tlsOpts: https.AgentOptions = {
      ...(tls.ca ? { ca: tls.ca } : {}),
      ...(tls.cert ? { cert: tls.cert } : {}),
      ...(tls.key ? { key: tls.key } : {}),
      ...(tls.minVersion ? { minVersion: tls.minVersion } : {}),
      ...(tls.maxVersion ? { maxVersion: tls.maxVersion } : {}),
    };
    if (secure) {
      this.pooled = new https.Agent({ ...tlsOpts, keepAlive: true, maxSockets: 16 });
      this.fresh = new https.Agent({ ...tlsOpts, keepAlive: false });
    } else {
      this.pooled = new http.Agent({ keepAlive: true, maxSockets: 16 });
      this.fresh = new http.Agent({ keepAlive: false });
    }
  }

  close(): void {
    this.pooled.destroy();
    this.fresh.destroy();
  }

  /**
   * Send one request. Network failures and 500/502/503/504 are retried for
   * GET/PUT/DELETE while the deadline allows; POST is sent exactly once.
   * Any HTTP status is returned; only transport failures throw.
   */
  async request(req: HttpRequest): Promise<HttpReply> {
    if ((req.url.protocol === "https:") !== this.secure) {
      throw new KeyManagerError(`${req.peer}: ${req.url.protocol} URL on a ${this.secure ? "https" : "http"} client`);
    }
    const idempotent = req.method !== "POST";
    const deadline = Math.min(req.deadline ?? Infinity, Date.now() + this.timeoutMs);
    const what = `${req.method} ${req.url.pathname}${req.url.search}`;
    for (let attempt = 1; ; attempt++) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw this.timeoutError(req, what);
      let failure: unknown;
      try {
        const reply = await this.once(req, remaining, idempotent ? this.pooled : this.fresh, attempt);
        if (!idempotent || !RETRYABLE_STATUS.has(reply.status) || attempt > this.retries) return reply;
        failure = reply;
      } catch (e) {
        if (e instanceof DeadlineExceeded) throw this.timeoutError(req, what, e);
        const code = (e as NodeJS.ErrnoException).code ?? "";
        if (!idempotent || !RETRYABLE_CODES.has(code) || attempt > this.retries) throw this.networkError(req, what, e, attempt);
        failure = e;
      }
      // Exponential backoff with jitter, never past the deadline.
      const delay = Math.round(this.backoffMs * 2 ** (attempt - 1) * (0.5 + Math.random() / 2));
      if (Date.now() + delay >= deadline) {
        if (failure instanceof Error) throw this.networkError(req, what, failure, attempt);
        return failure as HttpReply;
      }
      await sleep(delay);
    }
  }

  private once(req: HttpRequest, remainingMs: number, agent: http.Agent, attempt: number): Promise<HttpReply> {
    const signal = AbortSignal.timeout(remainingMs);
    const mod = this.secure ? https : http;
    return new Promise<HttpReply>((resolve, reject) => {
      let settled = false;
      const fail = (e: unknown): void => {
        if (settled) return;
        settled = true;
        // Whatever error the abort surfaces as (AbortError, 'aborted', ECONNRESET), it was the deadline.
        reject(signal.aborted ? new DeadlineExceeded("deadline", { cause: e }) : e);
      };
      const headers: Record<string, string | number> = { ...(req.headers ?? {}) };
      if (req.body !== undefined) headers["Content-Length"] = Buffer.byteLength(req.body);
      const r = mod.request(req.url, { method: req.method, headers, agent, signal }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > MAX_REPLY_BYTES) {
            res.destroy(Object.assign(new Error("reply too large"), { code: "EREPLYTOOLARGE" }));
            return;
          }
          chunks.push(c);
        });
        res.on("error", fail);
        res.on("aborted", () => fail(Object.assign(new Error("reply cut off"), { code: "ECONNRESET" })));
        res.on("end", () => {
          if (settled) return;
          settled = true;
          resolve({
            status: res.statusCode ?? 0,
            statusText: res.statusMessage ?? "",
            headers: res.headers,
            body: Buffer.concat(chunks),
            attempt,
          });
        });
      });
      r.on("error", fail);
      r.end(req.body);
    });
  }

  private timeoutError(req: HttpRequest, what: string, cause?: unknown): KeyManagerError {
    return new KeyManagerError(`${req.peer} did not answer within ${this.timeoutMs} ms (${what})`, { cause });
  }

  private networkError(req: HttpRequest, what: string, e: unknown, attempts: number): KeyManagerError {
    const code = (e as NodeJS.ErrnoException).code ?? "";
    const tries = attempts > 1 ? `, ${attempts} attempts` : "";
    let why: string;
    if (code === "ECONNREFUSED") why = "refused the connection (ECONNREFUSED): is the server running?";
    else if (code === "ECONNRESET") why = "closed the connection without an answer (ECONNRESET)";
    else if (code === "ENOTFOUND" || code === "EAI_AGAIN") why = `has a host name that does not resolve (${code})`;
    else if (code === "EREPLYTOOLARGE") why = `sent a reply larger than ${MAX_REPLY_BYTES} bytes`;
    else if (/CERT|SSL|TLS/.test(code)) why = `failed the TLS handshake (${code})`;
    else why = `could not be reached (${code || (e as Error).message})`;
    return new KeyManagerError(`${req.peer} ${why} (${what}${tries})`, { cause: e });
  }
}
