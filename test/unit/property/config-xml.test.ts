// Property tests for <keystore> (src/xml/keystore.ts) and <kmip-server>
// (src/xml/kmip-server.ts) XML: generated valid configurations parse to
// exactly what was generated; arbitrary and mutated documents throw only
// VirError.
import { expect } from "chai";
import fc from "fast-check";
import type { KeystoreConfig } from "../../../src/keystore/config.js";
import { DEFAULT_MAX_BYTES } from "../../../src/keystore/kmip/ttlv.js";
import { KMIP_SERVER_MAX_RESPONSE_BYTES } from "../../../src/keystore/kmip/server.js";
import { parseKeystoreXML } from "../../../src/xml/keystore.js";
import { parseKmipServerXML, type ResolvedKmipServerConfig } from "../../../src/xml/kmip-server.js";
import { escapeXML } from "../../../src/xml/write.js";
import { mutated, onlyVirError } from "./arbitraries.js";

const e = escapeXML;
const seg = fc.stringMatching(/^[A-Za-z0-9_.ü&'<-]{1,8}$/).filter((s) => s !== "." && s !== "..");
const absPath = fc.array(seg, { minLength: 1, maxLength: 3 }).map((p) => "/" + p.join("/"));
const host = fc.oneof(
  fc.stringMatching(/^[a-z0-9]([a-z0-9.-]{0,20}[a-z0-9])?$/),
  fc.ipV4(),
  fc.constantFrom("::1", "fe80::1", "2001:db8::7"),
);
const plain = fc.stringMatching(/^[A-Za-z0-9_ü&<'"-][A-Za-z0-9 _.ü&<'"-]{0,20}[A-Za-z0-9_ü&<'"-]$/);
const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });
const endpoint = fc
  .record({
    https: fc.boolean(),
    host: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/),
    port: opt(fc.integer({ min: 1, max: 65535 }).filter((p) => p !== 80 && p !== 443)),
    path: fc.array(fc.stringMatching(/^[a-z0-9]{1,6}$/), { maxLength: 3 }),
  })
  .map((u) => `${u.https ? "https" : "http"}://${u.host}${u.port === undefined ? "" : `:${u.port}`}${u.path.map((p) => "/" + p).join("")}`);

/** A config and the XML that says it (children in a random order, random blank text). */
interface Case<T> {
  config: T;
  xml: string;
}

function doc(root: string, children: string[], order: number[], pad: string): string {
  const sorted = children.map((c, i) => [order[i % order.length]! + i / 100, c] as const).sort((a, b) => a[0] - b[0]);
  return `<${root}>${sorted.map(([, c]) => pad + c).join("")}${pad}</${root.split(" ")[0]}>`;
}
const layout = fc.tuple(fc.array(fc.nat(9), { minLength: 1, maxLength: 8 }), fc.constantFrom("", "\n  ", " "));

const tlsFiles = fc.record({ version: opt(fc.constantFrom("1.2" as const, "1.3" as const)), ca: absPath, cert: absPath, key: absPath });
const tlsXml = (t: { version?: string | undefined; ca?: string | undefined; cert?: string | undefined; key?: string | undefined }) =>
  `<tls${t.version ? ` version='${t.version}'` : ""}>` +
  (t.ca ? `<ca>${e(t.ca)}</ca>` : "") + (t.cert ? `<cert> ${e(t.cert)} </cert>` : "") + (t.key ? `<key>${e(t.key)}</key>` : "") + "</tls>";
const clean = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

const local: fc.Arbitrary<Case<KeystoreConfig>> = fc
  .record({ root: opt(absPath), mk: opt(absPath), l: layout })
  .map(({ root, mk, l }) => {
    const masterKeyFile = root === undefined ? undefined : mk;
    const kids = [
      ...(root !== undefined ? [`<root>${e(root)}</root>`] : []),
      ...(masterKeyFile !== undefined ? [`<masterkey file='${e(masterKeyFile)}'/>`] : []),
    ];
    return { config: clean({ type: "local" as const, root, masterKeyFile }), xml: doc("keystore type='local'", kids, l[0], l[1]) };
  });

const kmip: fc.Arbitrary<Case<KeystoreConfig>> = fc
  .record({
    host,
    port: opt(fc.integer({ min: 1, max: 65535 })),
    tls: tlsFiles,
    cred: opt(fc.record({ username: plain, passwordFile: opt(absPath) })),
    pool: opt(fc.integer({ min: 1, max: 64 })),
    timeout: opt(fc.integer({ min: 1, max: 3_600_000 })),
    l: layout,
  })
  .map(({ host, port, tls, cred, pool, timeout, l }) => {
    const written = host.includes(":") && host.length % 2 === 0 ? `[${host}]` : host;
    const kids = [
      `<host>${written}</host>`,
      ...(port !== undefined ? [`<port>${port}</port>`] : []),
      tlsXml(tls),
      ...(cred ? [`<credential username='${e(cred.username)}'${cred.passwordFile ? ` password-file='${e(cred.passwordFile)}'` : ""}/>`] : []),
      ...(pool !== undefined ? [`<pool size='${pool}'/>`] : []),
      ...(timeout !== undefined ? [`<timeout ms='${timeout}'/>`] : []),
    ];
    const config: KeystoreConfig = {
      type: "kmip",
      host,
      port: port ?? 5696,
      tls: clean(tls),
      ...(cred ? { credential: clean(cred) } : {}),
      poolSize: pool ?? 4,
      timeoutMs: timeout ?? 30_000,
    };
    return { config, xml: doc("keystore type='kmip'", kids, l[0], l[1]) };
  });

const auth = fc.oneof(
  fc.constant({ xml: "<auth type='noauth'/>", config: { type: "noauth" as const } }),
  opt(absPath).map((tf) => ({
    xml: `<auth type='token'>${tf ? `<token-file>${e(tf)}</token-file>` : ""}</auth>`,
    config: clean({ type: "token" as const, tokenFile: tf }),
  })),
  fc.record({ url: endpoint, username: plain, pw: absPath, ud: opt(plain), project: plain, pd: opt(plain) }).map((k) => ({
    xml:
      `<auth type='keystone'><url>${k.url}</url><credential username='${e(k.username)}' password-file='${e(k.pw)}'/>` +
      (k.ud ? `<user-domain>${e(k.ud)}</user-domain>` : "") +
      `<project name='${e(k.project)}'${k.pd ? ` domain='${e(k.pd)}'` : ""}/></auth>`,
    config: {
      type: "keystone" as const, url: k.url, username: k.username, passwordFile: k.pw,
      userDomain: k.ud ?? "Default", project: k.project, projectDomain: k.pd ?? "Default",
    },
  })),
);

const barbican: fc.Arbitrary<Case<KeystoreConfig>> = fc
  .record({ endpoint, auth, tls: opt(fc.record({ version: opt(fc.constantFrom("1.2" as const, "1.3" as const)), ca: opt(absPath), pair: opt(fc.tuple(absPath, absPath)) })), timeout: opt(fc.integer({ min: 1, max: 3_600_000 })), l: layout })
  .map(({ endpoint, auth, tls, timeout, l }) => {
    const t = endpoint.startsWith("https:") ? tls : undefined;
    const tlsCfg = t ? clean({ version: t.version, ca: t.ca, cert: t.pair?.[0], key: t.pair?.[1] }) : undefined;
    const kids = [`<endpoint>${endpoint}</endpoint>`, auth.xml, ...(tlsCfg ? [tlsXml(tlsCfg)] : []), ...(timeout !== undefined ? [`<timeout ms='${timeout}'/>`] : [])];
    const config: KeystoreConfig = { type: "barbican", endpoint, auth: auth.config, ...(tlsCfg ? { tls: tlsCfg } : {}), timeoutMs: timeout ?? 30_000 };
    return { config, xml: doc("keystore type='barbican'", kids, l[0], l[1]) };
  });

const kmipServer: fc.Arbitrary<Case<ResolvedKmipServerConfig>> = fc
  .record({
    listen: opt(fc.record({ host: opt(host), port: opt(fc.integer({ min: 0, max: 65535 })) })),
    minVersion: opt(fc.constantFrom("1.2", "1.3")),
    ca: absPath, cert: absPath, key: absPath,
    relative: fc.boolean(),
    data: seg, seal: seg,
    limits: opt(fc.record({ mb: opt(fc.integer({ min: 1024, max: 64 * 1024 * 1024 })), rb: opt(fc.integer({ min: 1024, max: 256 * 1024 * 1024 })), idle: opt(fc.integer({ min: 1, max: 86_400_000 })) })),
    l: layout,
  })
  .map((r) => {
    // relative paths resolve against the config's directory
    const base = "/etc/virsecret";
    const dataRel = `data/${r.data}`;
    const sealRel = `keys/${r.seal}`;
    const dataWritten = r.relative ? dataRel : `${base}/${dataRel}`;
    const sealWritten = r.relative ? sealRel : `${base}/${sealRel}`;
    const kids = [
      ...(r.listen ? [`<listen${r.listen.host !== undefined ? ` host='${r.listen.host}'` : ""}${r.listen.port !== undefined ? ` port='${r.listen.port}'` : ""}/>`] : []),
      `<tls${r.minVersion ? ` min-version='${r.minVersion}'` : ""}><ca>${e(r.ca)}</ca><cert>${e(r.cert)}</cert><key>${e(r.key)}</key></tls>`,
      `<data dir='${e(dataWritten)}'/>`,
      `<seal-key file='${e(sealWritten)}'/>`,
      ...(r.limits ? [`<limits${r.limits.mb !== undefined ? ` max-message-bytes='${r.limits.mb}'` : ""}${r.limits.rb !== undefined ? ` max-response-bytes='${r.limits.rb}'` : ""}${r.limits.idle !== undefined ? ` idle-timeout-ms='${r.limits.idle}'` : ""}/>`] : []),
    ];
    const config: ResolvedKmipServerConfig = {
      host: r.listen?.host ?? "127.0.0.1",
      port: r.listen?.port ?? 5696,
      ca: r.ca, cert: r.cert, key: r.key,
      tlsMinVersion: r.minVersion === "1.3" ? "TLSv1.3" : "TLSv1.2",
      dataDir: `${base}/${dataRel}`,
      sealKeyFile: `${base}/${sealRel}`,
      maxMessageBytes: r.limits?.mb ?? DEFAULT_MAX_BYTES,
      maxResponseBytes: r.limits?.rb ?? KMIP_SERVER_MAX_RESPONSE_BYTES,
      idleTimeoutMs: r.limits?.idle ?? 300_000,
    };
    return { config, xml: doc("kmip-server", kids, r.l[0], r.l[1]) };
  });

const keystoreCase = fc.oneof(local, kmip, barbican);

describe("property: keystore and kmip-server XML", () => {
  it("a generated <keystore> parses to the generated config", () => {
    fc.assert(
      fc.property(keystoreCase, ({ config, xml }) => {
        expect(parseKeystoreXML(xml), xml).to.deep.equal(config);
      }),
      { numRuns: 300 },
    );
  });

  it("a generated <kmip-server> parses to the generated config", () => {
    fc.assert(
      fc.property(kmipServer, ({ config, xml }) => {
        expect(parseKmipServerXML(xml, { baseDir: "/etc/virsecret" }), xml).to.deep.equal(config);
      }),
      { numRuns: 300 },
    );
  });

  it("arbitrary and mutated documents throw only VirError", () => {
    const inputs = fc.oneof(
      fc.string(),
      fc.string().map((s) => `<keystore type='kmip'>${s}</keystore>`),
      keystoreCase.chain((c) => mutated(c.xml)),
      kmipServer.chain((c) => mutated(c.xml)),
    );
    fc.assert(
      fc.property(inputs, fc.constantFrom(undefined, "/etc/virsecret"), (xml, baseDir) => {
        onlyVirError(() => parseKeystoreXML(xml));
        onlyVirError(() => parseKmipServerXML(xml, baseDir === undefined ? {} : { baseDir }));
      }),
      { numRuns: 500 },
    );
  });
});
