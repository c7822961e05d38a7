// MOCK servers for the Barbican unit tests. The real Barbican runs only in the
// interop suite; these tiny loopback HTTP servers let unit tests see the exact
// requests the client builds and script the answers (errors, hangs, pages).
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

export type MockHandler = (req: RecordedRequest, res: http.ServerResponse) => void | Promise<void>;

/** A loopback HTTP mock that records every request it gets. */
export class MockHttpServer {
  readonly requests: RecordedRequest[] = [];
  private constructor(
    private readonly server: http.Server,
    public handler: MockHandler,
  ) {}

  static async start(handler: MockHandler): Promise<MockHttpServer> {
    const server = http.createServer();
    const mock = new MockHttpServer(server, handler);
    server.on("request", (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const u = new URL(req.url ?? "/", "http://mock");
        const rec: RecordedRequest = { method: req.method ?? "", path: u.pathname, query: u.searchParams, headers: req.headers, body: Buffer.concat(chunks) };
        mock.requests.push(rec);
        Promise.resolve(mock.handler(rec, res)).catch((e: unknown) => {
          res.statusCode = 599;
          res.end(String(e));
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return mock;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

interface MockSecret {
  id: string;
  project: string;
  meta: Record<string, unknown>;
  payload: Buffer;
}

/**
 * A MOCK of the Barbican v1 secrets API, just enough for request-building and
 * paging tests: per-project secrets (403 for another project's, 404 for
 * absent), payloads, lists with limit/offset whose `next` link drops the
 * filters exactly as Barbican 15.0.1 does.
 */
export class MockBarbican {
  readonly secrets = new Map<string, MockSecret>();
  private seq = 0;

  constructor(private readonly base: () => string) {}

  add(project: string, meta: Record<string, unknown>, payload: Buffer): string {
    const n = (this.seq++).toString(16).padStart(12, "0");
    const id = `00000000-0000-4000-8000-${n}`;
    const created = new Date(Date.UTC(2026, 0, 1, 0, 0, this.seq)).toISOString().replace("Z", "");
    this.secrets.set(id, { id, project, payload, meta: { name: null, algorithm: null, bit_length: null, expiration: null, ...meta, created, secret_ref: `${this.base()}/v1/secrets/${id}`, content_types: { default: "application/octet-stream" } } });
    return id;
  }

  readonly handler: MockHandler = (req, res) => {
    const project = req.headers["x-project-id"];
    if (typeof project !== "string") return sendJson(res, 400, { code: 400, title: "Bad Request", description: "Missing X-Project-Id" });
    const m = /^\/v1\/secrets(?:\/([^/]+)(\/payload)?)?$/.exec(req.path);
    if (!m) return sendJson(res, 404, { code: 404, title: "Not Found" });
    const [, id, payload] = m;
    if (id === undefined) {
      if (req.method === "POST") {
        const b = JSON.parse(req.body.toString()) as Record<string, unknown>;
        const { payload: p, payload_content_type: _t, payload_content_encoding: _e, ...meta } = b;
        const nid = this.add(project, meta, Buffer.from(String(p), "base64"));
        return sendJson(res, 201, { secret_ref: `${this.base()}/v1/secrets/${nid}` }, { Location: `${this.base()}/v1/secrets/${nid}` });
      }
      const limit = Math.min(100, Math.max(1, Number(req.query.get("limit") ?? 10)));
      const offset = Number(req.query.get("offset") ?? 0);
      const type = req.query.get("secret_type");
      const name = req.query.get("name");
      const all = [...this.secrets.values()].filter((s) => s.project === project && (!type || s.meta.secret_type === type) && (!name || s.meta.name === name));
      const page = all.slice(offset, offset + limit);
      const body: Record<string, unknown> = { secrets: page.map((s) => s.meta), total: all.length };
      // Like Barbican 15.0.1: the links carry only limit and offset, not the filters.
      if (offset + limit < all.length) body.next = `${this.base()}/v1/secrets?limit=${limit}&offset=${offset + limit}`;
      if (offset > 0) body.previous = `${this.base()}/v1/secrets?limit=${limit}&offset=${Math.max(0, offset - limit)}`;
      return sendJson(res, 200, body);
    }
    const s = this.secrets.get(id);
    if (!s) return sendJson(res, 404, { code: 404, title: "Not Found", description: "Not Found. Provided secret id is invalid." });
    if (s.project !== project) return sendJson(res, 403, { code: 403, title: "Forbidden", description: "Secret retrieval attempt not allowed" });
    if (req.method === "DELETE") {
      this.secrets.delete(id);
      res.writeHead(204);
      return void res.end();
    }
    if (payload) {
      res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": s.payload.length });
      return void res.end(s.payload);
    }
    return sendJson(res, 200, s.meta);
  };
}
