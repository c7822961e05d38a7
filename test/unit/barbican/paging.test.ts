// Paging: readAllPages on its own, and listKeys against a MOCK Barbican whose
// `next` links drop the filters, as Barbican 15.0.1's do.
import { expect } from "chai";
import { BarbicanKeyManager } from "../../../src/keystore/barbican.js";
import { offsetOfNext, type Page, readAllPages } from "../../../src/keystore/barbican/paging.js";
import { MockBarbican, MockHttpServer, sendJson } from "./mock-server.js";

function pagesOf(items: string[], limit: number): (offset: number, l: number) => Promise<Page<string>> {
  return async (offset, l) => {
    expect(l).to.equal(limit);
    const slice = items.slice(offset, offset + l);
    return offset + l < items.length ? { items: slice, next: `http://h/v1/secrets?limit=${l}&offset=${offset + l}` } : { items: slice };
  };
}

describe("barbican: paging", () => {
  it("offsetOfNext reads the offset of a next link, absolute or relative", () => {
    expect(offsetOfNext("http://127.0.0.1:19311/v1/secrets?limit=1&offset=2")).to.equal(2);
    expect(offsetOfNext("/v1/secrets?offset=300&limit=100")).to.equal(300);
    expect(offsetOfNext("http://h/v1/secrets?limit=1")).to.equal(null);
    expect(offsetOfNext("http://h/v1/secrets?offset=-5")).to.equal(null);
    expect(offsetOfNext("http://h/v1/secrets?offset=abc")).to.equal(null);
  });

  it("reads every page until there is no next link (not just the first 10)", async () => {
    const items = Array.from({ length: 257 }, (_, i) => `s${i}`);
    const offsets: number[] = [];
    const fetch = pagesOf(items, 100);
    const all = await readAllPages(
      (o, l) => {
        offsets.push(o);
        return fetch(o, l);
      },
      (s) => s,
    );
    expect(all).to.deep.equal(items);
    expect(offsets).to.deep.equal([0, 100, 200]);
  });

  it("an exact multiple of the page size ends on the page without next", async () => {
    const items = Array.from({ length: 20 }, (_, i) => `s${i}`);
    expect(await readAllPages(pagesOf(items, 10), (s) => s, 10)).to.deep.equal(items);
  });

  it("drops duplicates that a concurrent insert shifts onto the next page", async () => {
    const pages: Page<string>[] = [
      { items: ["a", "b"], next: "?offset=2" },
      { items: ["b", "c"], next: "?offset=4" },
      { items: ["d"] },
    ];
    expect(await readAllPages(async (o) => pages[o / 2]!, (s) => s, 2)).to.deep.equal(["a", "b", "c", "d"]);
  });

  it("stops on an empty page or a next link that does not move forward", async () => {
    let calls = 0;
    const stuck = await readAllPages(
      async () => {
        calls++;
        return { items: [`x${calls}`], next: "?offset=0" };
      },
      (s) => s,
    );
    expect(stuck).to.deep.equal(["x1"]);
    const empty = await readAllPages(async () => ({ items: [], next: "?offset=100" }), (s: string) => s);
    expect(empty).to.deep.equal([]);
  });

  it("a next link without an offset continues after the items received", async () => {
    const seen: number[] = [];
    await readAllPages(
      async (o) => {
        seen.push(o);
        return o === 0 ? { items: ["a", "b", "c"], next: "http://h/v1/secrets?limit=3" } : { items: ["d"] };
      },
      (s) => s,
      3,
    );
    expect(seen).to.deep.equal([0, 3]);
  });

  describe("listKeys over a mock Barbican", () => {
    let server: MockHttpServer;
    let barbican: MockBarbican;
    let km: BarbicanKeyManager;
    beforeEach(async () => {
      server = await MockHttpServer.start(() => undefined);
      barbican = new MockBarbican(() => server.url);
      server.handler = barbican.handler;
      km = await BarbicanKeyManager.open({ endpoint: `${server.url}/v1`, auth: { type: "noauth" }, timeoutMs: 5000 });
    });
    afterEach(async () => {
      await km.close();
      await server.close();
    });

    it("lists 250 secrets over three pages of 100, keeping the kind filter on every page", async () => {
      for (let i = 0; i < 250; i++) barbican.add("p", { secret_type: "symmetric", algorithm: "AES", bit_length: 8, name: `k${i}` }, Buffer.from([i]));
      for (let i = 0; i < 30; i++) barbican.add("p", { secret_type: "opaque", name: `o${i}` }, Buffer.from([i]));
      barbican.add("other-project", { secret_type: "symmetric" }, Buffer.from([1]));
      const list = await km.listKeys({ project: "p" }, { kind: "symmetric", metadataOnly: true });
      expect(list).to.have.length(250);
      expect(list.map((o) => o.name)).to.deep.equal(Array.from({ length: 250 }, (_, i) => `k${i}`));
      const pageReqs = server.requests.filter((r) => r.path === "/v1/secrets");
      expect(pageReqs.map((r) => r.query.get("offset"))).to.deep.equal(["0", "100", "200"]);
      expect(pageReqs.every((r) => r.query.get("secret_type") === "symmetric" && r.query.get("limit") === "100")).to.equal(true);
      // metadataOnly: no payload reads at all
      expect(server.requests.some((r) => r.path.endsWith("/payload"))).to.equal(false);
    });

    it("with values: one payload read per object, bytes matching", async () => {
      for (let i = 0; i < 12; i++) barbican.add("p", { secret_type: "opaque" }, Buffer.from([i, i]));
      const list = await km.listKeys({ project: "p" });
      expect(list).to.have.length(12);
      list.forEach((o, i) => expect([...o.value!]).to.deep.equal([i, i]));
      expect(server.requests.filter((r) => r.path.endsWith("/payload"))).to.have.length(12);
    });

    it("filters by exact name even when the server matches more (Barbican's name filter is SQL LIKE)", async () => {
      barbican.add("p", { secret_type: "opaque", name: "a_b" }, Buffer.from([1]));
      barbican.add("p", { secret_type: "opaque", name: "axb" }, Buffer.from([2]));
      // A server that ignores the name filter entirely still yields only exact matches.
      const inner = barbican.handler;
      server.handler = (req, res) => {
        req.query.delete("name");
        return inner(req, res);
      };
      const list = await km.listKeys({ project: "p" }, { name: "a_b", metadataOnly: true });
      expect(list.map((o) => o.name)).to.deep.equal(["a_b"]);
    });

    it("skips expired entries and objects deleted between the listing and the payload read", async () => {
      barbican.add("p", { secret_type: "opaque", expiration: "2001-01-01T00:00:00" }, Buffer.from([1]));
      const gone = barbican.add("p", { secret_type: "opaque", name: "gone" }, Buffer.from([2]));
      barbican.add("p", { secret_type: "opaque", name: "kept" }, Buffer.from([3]));
      const inner = barbican.handler;
      server.handler = (req, res) => {
        if (req.path === "/v1/secrets") {
          // the listing still shows it, then it is deleted before we read it
          const out = inner(req, res);
          barbican.secrets.delete(gone);
          return out;
        }
        return inner(req, res);
      };
      const list = await km.listKeys({ project: "p" });
      expect(list.map((o) => o.name)).to.deep.equal(["kept"]);
    });

    it("a reply without a secrets array is a KeyManagerError", async () => {
      server.handler = (_req, res) => sendJson(res, 200, { total: 0 });
      let err: unknown;
      await km.listKeys({ project: "p" }).catch((e: unknown) => (err = e));
      expect(String(err)).to.match(/Barbican at http:\/\/127\.0\.0\.1:\d+\/v1 sent a secret list without 'secrets'/);
    });
  });
});
