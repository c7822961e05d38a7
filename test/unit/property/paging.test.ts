// Property tests for Barbican paging (src/keystore/barbican/paging.ts):
// offsetOfNext reads the offset of any next link, absolute or relative, with
// any other query parameters; readAllPages against a model server returns
// every item once, in order, and always terminates.
import { expect } from "chai";
import fc from "fast-check";
import { offsetOfNext, readAllPages, type Page } from "../../../src/keystore/barbican/paging.js";

const param = fc.tuple(fc.constantFrom("limit", "secret_type", "name", "sort"), fc.stringMatching(/^[A-Za-z0-9_%-]{0,6}$/));

describe("property: Barbican paging", () => {
  it("offsetOfNext gives back the offset of any next link", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        fc.array(param, { maxLength: 3 }),
        fc.constantFrom("http://127.0.0.1:9311/v1/secrets", "https://kms.example/key-manager/v1/secrets", "/v1/secrets", "secrets"),
        fc.nat(3),
        (offset, params, base, at) => {
          const q = params.map(([k, v]) => `${k}=${v}`);
          q.splice(Math.min(at, q.length), 0, `offset=${offset}`);
          expect(offsetOfNext(`${base}?${q.join("&")}`)).to.equal(offset);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a link without a usable offset gives null", () => {
    const bad = fc.oneof(
      fc.constant("http://h/v1/secrets?limit=10"),
      fc.stringMatching(/^[^0-9]{1,4}$/).map((v) => `http://h/v1/secrets?offset=${encodeURIComponent(v)}`),
      fc.integer({ min: -1000, max: -1 }).map((v) => `http://h/v1/secrets?offset=${v}`),
      fc.bigInt({ min: BigInt(Number.MAX_SAFE_INTEGER) + 1n, max: 10n ** 30n }).map((v) => `http://h/v1/secrets?offset=${v}`),
      fc.constant("http://[::1"),
    );
    fc.assert(
      fc.property(bad, (link) => {
        expect(offsetOfNext(link)).to.equal(null);
      }),
      { numRuns: 200 },
    );
  });

  it("readAllPages returns every item once and in order, whatever the page size", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { maxLength: 40 }),
        fc.integer({ min: 1, max: 12 }),
        fc.boolean(),
        async (items, limit, dropOffset) => {
          let calls = 0;
          const fetchPage = async (offset: number, lim: number): Promise<Page<string>> => {
            calls++;
            const page = items.slice(offset, offset + lim);
            const more = offset + lim < items.length;
            // some servers' next links carry no offset: the reader goes on after what it got
            const next = more ? (dropOffset ? `/v1/secrets?limit=${lim}` : `/v1/secrets?limit=${lim}&offset=${offset + lim}`) : undefined;
            return next === undefined ? { items: page } : { items: page, next };
          };
          const got = await readAllPages(fetchPage, (s) => s, limit);
          expect(got).to.deep.equal(items);
          expect(calls).to.be.at.most(Math.ceil(items.length / limit) + 1);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a server whose next link never moves forward cannot make it loop", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 5 }), fc.nat(3), async (items, stuck) => {
        let calls = 0;
        const got = await readAllPages(
          async () => {
            calls++;
            if (calls > 50) throw new Error("readAllPages did not stop");
            return { items, next: `/v1/secrets?offset=${stuck}` };
          },
          (s) => s,
          items.length,
        );
        expect(got).to.deep.equal([...new Set(items)]);
      }),
      { numRuns: 100 },
    );
  });
});
