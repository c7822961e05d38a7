// <keystore> configuration: every accepted form parses to the expected
// KeystoreConfig AND validates against schemas/keystore.rng; every refused
// form gives a VirError naming what is wrong; openKeystore dispatches on type.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { VirError } from "../../../src/errors.js";
import type { KeystoreConfig } from "../../../src/keystore/config.js";
import { KeyManagerError } from "../../../src/keystore/key-manager.js";
import { LocalKeyManager } from "../../../src/keystore/local.js";
import { loadKeystoreConfig, openKeystore } from "../../../src/keystore/open.js";
import { SecretStore } from "../../../src/store/db.js";
import { parseKeystoreXML } from "../../../src/xml/keystore.js";
import { rejection } from "../../helpers/reject.js";
import { relaxNG } from "../../helpers/relaxng.js";
import { expectXmlError, virErrorOf } from "../../helpers/vir-error.js";

const schema = relaxNG("keystore.rng");
const parseError = (xml: string): VirError => virErrorOf(() => parseKeystoreXML(xml), xml);

const TLS = "<tls version='1.2'><ca>/etc/pki/ca.pem</ca><cert>/etc/pki/c.pem</cert><key>/etc/pki/c.key</key></tls>";

const GOOD: Array<[string, string, KeystoreConfig]> = [
  ["minimal local", "<keystore type='local'/>", { type: "local" }],
  [
    "local with root and master key, any order",
    "<keystore type='local'>\n  <masterkey file='/etc/agent/k.key'/>\n  <root> /var/lib/agent </root>\n</keystore>",
    { type: "local", root: "/var/lib/agent", masterKeyFile: "/etc/agent/k.key" },
  ],
  [
    "kmip, defaults",
    `<keystore type='kmip'><host>127.0.0.1</host>${TLS}</keystore>`,
    {
      type: "kmip",
      host: "127.0.0.1",
      port: 5696,
      tls: { version: "1.2", ca: "/etc/pki/ca.pem", cert: "/etc/pki/c.pem", key: "/etc/pki/c.key" },
      poolSize: 4,
      timeoutMs: 30000,
    },
  ],
  [
    "kmip, everything",
    `<keystore type="kmip">
       <pool size='8'/>
       <credential username='nova' password-file='/etc/nova/kmip.pw'/>
       <port>15696</port>
       <tls><key>/k</key><ca>/ca</ca><cert>/c</cert></tls>
       <host>kmip.example.org</host>
       <timeout ms='2500'/>
     </keystore>`,
    {
      type: "kmip",
      host: "kmip.example.org",
      port: 15696,
      tls: { ca: "/ca", cert: "/c", key: "/k" },
      credential: { username: "nova", passwordFile: "/etc/nova/kmip.pw" },
      poolSize: 8,
      timeoutMs: 2500,
    },
  ],
  [
    "kmip, IPv6 in brackets, credential without password",
    `<keystore type='kmip'><host>[::1]</host>${TLS}<credential username='u'/></keystore>`,
    {
      type: "kmip",
      host: "::1",
      port: 5696,
      tls: { version: "1.2", ca: "/etc/pki/ca.pem", cert: "/etc/pki/c.pem", key: "/etc/pki/c.key" },
      credential: { username: "u" },
      poolSize: 4,
      timeoutMs: 30000,
    },
  ],
  [
    "barbican noauth",
    "<keystore type='barbican'><endpoint>http://127.0.0.1:19311/v1/</endpoint><auth type='noauth'/></keystore>",
    { type: "barbican", endpoint: "http://127.0.0.1:19311/v1", auth: { type: "noauth" }, timeoutMs: 30000 },
  ],
  [
    "barbican token with file, tls and timeout",
    `<keystore type='barbican'>
       <timeout ms='1000'/>
       <tls version='1.3'><ca>/ca.pem</ca></tls>
       <auth type='token'><token-file>/run/token</token-file></auth>
       <endpoint>https://kms.example.org:9311/v1</endpoint>
     </keystore>`,
    {
      type: "barbican",
      endpoint: "https://kms.example.org:9311/v1",
      auth: { type: "token", tokenFile: "/run/token" },
      tls: { version: "1.3", ca: "/ca.pem" },
      timeoutMs: 1000,
    },
  ],
  [
    "barbican token from the caller's context",
    "<keystore type='barbican'><endpoint>http://h/v1</endpoint><auth type='token'/></keystore>",
    { type: "barbican", endpoint: "http://h/v1", auth: { type: "token" }, timeoutMs: 30000 },
  ],
  [
    "barbican keystone",
    `<keystore type='barbican'>
       <endpoint>https://kms:9311/v1</endpoint>
       <auth type='keystone'>
         <project name='service' domain='ops'/>
         <credential username='cinder' password-file='/etc/cinder/pw'/>
         <url>https://keystone:5000/v3</url>
       </auth>
       <tls><ca>/ca</ca><cert>/c</cert><key>/k</key></tls>
     </keystore>`,
    {
      type: "barbican",
      endpoint: "https://kms:9311/v1",
      auth: {
        type: "keystone",
        url: "https://keystone:5000/v3",
        username: "cinder",
        passwordFile: "/etc/cinder/pw",
        userDomain: "Default",
        project: "service",
        projectDomain: "ops",
      },
      tls: { ca: "/ca", cert: "/c", key: "/k" },
      timeoutMs: 30000,
    },
  ],
];

// [what, xml, expected message (exact detail or a pattern), also refused by the schema?]
const BAD: Array<[string, string, string | RegExp, boolean]> = [
  ["no type", "<keystore/>", "missing keystore type: <keystore type='local|kmip|barbican'>", true],
  ["unknown type", "<keystore type='vault'/>", "unknown keystore type 'vault': expected 'local', 'kmip' or 'barbican'", true],
  ["unknown root attribute", "<keystore type='local' name='x'/>", "unexpected attribute 'name' on <keystore>", true],
  ["unknown element", "<keystore type='local'><dir>/x</dir></keystore>", "unexpected element <dir> in keystore of type 'local'", true],
  ["repeated element", "<keystore type='local'><root>/a</root><root>/b</root></keystore>", "element <root> may appear only once in keystore of type 'local'", true],
  ["text in keystore", "<keystore type='local'>oops</keystore>", "unexpected text in keystore of type 'local'", true],
  ["relative root", "<keystore type='local'><root>var/lib</root></keystore>", "keystore <root> must be an absolute path, got 'var/lib'", true],
  ["masterkey without root", "<keystore type='local'><masterkey file='/k'/></keystore>", "<masterkey> needs a <root> in keystore of type 'local'", true],
  ["masterkey without file", "<keystore type='local'><root>/r</root><masterkey/></keystore>", "<masterkey> needs a 'file' attribute", true],
  ["root with children", "<keystore type='local'><root><x/></root></keystore>", "element <root> must hold text only", true],
  ["kmip without host", `<keystore type='kmip'>${TLS}</keystore>`, "missing <host> in keystore of type 'kmip'", true],
  ["kmip bad host", `<keystore type='kmip'><host>a b</host>${TLS}</keystore>`, "<host> must be a host name or an IP address, got 'a b'", true],
  ["kmip port text", `<keystore type='kmip'><host>h</host><port>http</port>${TLS}</keystore>`, "<port> must be an integer from 1 to 65535, got 'http'", true],
  ["kmip port 0", `<keystore type='kmip'><host>h</host><port>0</port>${TLS}</keystore>`, "<port> must be an integer from 1 to 65535, got '0'", false],
  ["kmip port too big", `<keystore type='kmip'><host>h</host><port>70000</port>${TLS}</keystore>`, "<port> must be an integer from 1 to 65535, got '70000'", false],
  ["kmip without tls", "<keystore type='kmip'><host>h</host></keystore>", "missing <tls> in keystore of type 'kmip': KMIP runs over mutual TLS", true],
  ["kmip tls without ca", "<keystore type='kmip'><host>h</host><tls><cert>/c</cert><key>/k</key></tls></keystore>", "<tls> of keystore of type 'kmip' needs <ca>, <cert> and <key> (mutual TLS)", true],
  ["kmip tls cert without key", "<keystore type='kmip'><host>h</host><tls><ca>/a</ca><cert>/c</cert></tls></keystore>", "<tls> of keystore of type 'kmip' needs <cert> and <key> together", true],
  ["tls bad version", "<keystore type='kmip'><host>h</host><tls version='1.0'><ca>/a</ca><cert>/c</cert><key>/k</key></tls></keystore>", "<tls version> must be '1.2' or '1.3', got '1.0'", true],
  ["tls relative file", "<keystore type='kmip'><host>h</host><tls><ca>ca.pem</ca><cert>/c</cert><key>/k</key></tls></keystore>", "<tls> <ca> must be an absolute path, got 'ca.pem'", true],
  ["tls unknown child", "<keystore type='kmip'><host>h</host><tls><ca>/a</ca><cert>/c</cert><key>/k</key><crl>/x</crl></tls></keystore>", "unexpected element <crl> in <tls> of keystore of type 'kmip'", true],
  ["pool zero", `<keystore type='kmip'><host>h</host>${TLS}<pool size='0'/></keystore>`, "<pool size> must be an integer from 1 to 64, got '0'", false],
  ["pool huge", `<keystore type='kmip'><host>h</host>${TLS}<pool size='1000'/></keystore>`, "<pool size> must be an integer from 1 to 64, got '1000'", false],
  ["pool without size", `<keystore type='kmip'><host>h</host>${TLS}<pool/></keystore>`, "<pool> needs a 'size' attribute", true],
  ["pool bad attribute", `<keystore type='kmip'><host>h</host>${TLS}<pool count='2'/></keystore>`, "unexpected attribute 'count' on <pool>", true],
  ["timeout negative", `<keystore type='kmip'><host>h</host>${TLS}<timeout ms='-5'/></keystore>`, "<timeout ms> must be an integer from 1 to 3600000, got '-5'", true],
  ["credential without username", `<keystore type='kmip'><host>h</host>${TLS}<credential password-file='/p'/></keystore>`, "<credential> needs a 'username' attribute", true],
  ["credential relative password file", `<keystore type='kmip'><host>h</host>${TLS}<credential username='u' password-file='pw'/></keystore>`, "<credential password-file> must be an absolute path, got 'pw'", true],
  ["barbican without endpoint", "<keystore type='barbican'><auth type='noauth'/></keystore>", "missing <endpoint> in keystore of type 'barbican'", true],
  ["barbican ftp endpoint", "<keystore type='barbican'><endpoint>ftp://h/v1</endpoint><auth type='noauth'/></keystore>", "<endpoint> must be an http:// or https:// URL, got 'ftp://h/v1'", true],
  ["barbican endpoint not a URL", "<keystore type='barbican'><endpoint>barbican</endpoint><auth type='noauth'/></keystore>", "<endpoint> must be an http:// or https:// URL, got 'barbican'", true],
  ["barbican endpoint with credentials", "<keystore type='barbican'><endpoint>http://u:p@h/v1</endpoint><auth type='noauth'/></keystore>", "<endpoint> must not carry credentials; use <auth>", false],
  ["barbican endpoint with query", "<keystore type='barbican'><endpoint>http://h/v1?x=1</endpoint><auth type='noauth'/></keystore>", "<endpoint> must not have a query or fragment, got 'http://h/v1?x=1'", true],
  ["barbican without auth", "<keystore type='barbican'><endpoint>http://h/v1</endpoint></keystore>", "missing <auth> in keystore of type 'barbican'", true],
  ["barbican auth without type", "<keystore type='barbican'><endpoint>http://h/v1</endpoint><auth/></keystore>", "<auth> needs a 'type' attribute: 'noauth', 'token' or 'keystone'", true],
  ["barbican unknown auth", "<keystore type='barbican'><endpoint>http://h/v1</endpoint><auth type='oauth'/></keystore>", "unknown <auth> type 'oauth': expected 'noauth', 'token' or 'keystone'", true],
  ["noauth with children", "<keystore type='barbican'><endpoint>http://h/v1</endpoint><auth type='noauth'><token-file>/t</token-file></auth></keystore>", "unexpected element <token-file> in <auth type='noauth'>", true],
  ["keystone without url", "<keystore type='barbican'><endpoint>http://h/v1</endpoint><auth type='keystone'><credential username='u' password-file='/p'/><project name='p'/></auth></keystore>", "missing <url> in <auth type='keystone'>", true],
  ["keystone without password file", "<keystore type='barbican'><endpoint>http://h/v1</endpoint><auth type='keystone'><url>http://k/v3</url><credential username='u'/><project name='p'/></auth></keystore>", "<credential> in <auth type='keystone'> needs a 'password-file' attribute", true],
  ["keystone without project", "<keystore type='barbican'><endpoint>http://h/v1</endpoint><auth type='keystone'><url>http://k/v3</url><credential username='u' password-file='/p'/></auth></keystore>", "missing <project> in <auth type='keystone'>", true],
  ["tls on http endpoint", "<keystore type='barbican'><endpoint>http://h/v1</endpoint><auth type='noauth'/><tls><ca>/ca</ca></tls></keystore>", "<tls> needs an https:// <endpoint>, got 'http://h/v1'", false],
  ["huge value is clipped in the message", `<keystore type='local'><root>${"r".repeat(5000)}</root></keystore>`, /^keystore <root> must be an absolute path, got 'r{80}…'$/, true],
];

describe("keystore configuration XML", function () {
  describe("accepted", function () {
    for (const [what, xml, want] of GOOD) {
      it(`${what}: parses and validates against keystore.rng`, function () {
        expect(parseKeystoreXML(xml)).to.deep.equal(want);
        expect(schema.accepts(xml), "keystore.rng").to.equal(true);
      });
    }
  });

  describe("refused", function () {
    for (const [what, xml, msg, schemaToo] of BAD) {
      it(`${what}: XML_ERROR naming the fault${schemaToo ? ", schema agrees" : ""}`, function () {
        expectXmlError(parseError(xml), "KEYSTORE", msg);
        if (schemaToo) expect(schema.accepts(xml), "keystore.rng").to.equal(false);
      });
    }

    it("reports malformed XML and a wrong root with the reader's errors", function () {
      const bad = parseError("<keystore type='local'>");
      expect(bad.codeName).to.equal("XML_DETAIL");
      expect(bad.message).to.match(/^\(keystore_definition\):1: /);
      const root = parseError("<secret/>");
      expect(root.codeName).to.equal("XML_ERROR");
      expect(root.detail).to.equal("expecting root element of 'keystore', not 'secret'");
      expect(parseError("<!DOCTYPE k [<!ENTITY x 'y'>]><keystore type='local'/>").codeName).to.equal("XML_DETAIL");
    });
  });
});

describe("openKeystore", function () {
  let dir: string;
  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), "virsecret-ks-open-"));
  });
  afterEach(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it("opens a local keystore inside the caller's store when <root> is absent", async function () {
    const store = await SecretStore.open({ root: join(dir, "r") });
    try {
      const km = await openKeystore(parseKeystoreXML("<keystore type='local'/>"), { store });
      expect(km).to.be.instanceOf(LocalKeyManager);
      const id = await km.createKey({ project: "p" });
      await km.close();
      // the store is still open and the key is in it
      const again = await openKeystore({ type: "local" }, { store });
      expect((await again.getKey({ project: "p" }, id)).bitLength).to.equal(256);
      await again.close();
    } finally {
      await store.close();
    }
  });

  it("shares the caller's store when <root> names the same directory", async function () {
    const root = join(dir, "r");
    const store = await SecretStore.open({ root });
    try {
      const km = await openKeystore({ type: "local", root: `${root}/` }, { store });
      await km.createKey({ user: "u" });
      await km.close();
    } finally {
      await store.close();
    }
  });

  it("opens a root of its own with its master key file, and persists in it", async function () {
    const keyFile = join(dir, "mk.key");
    await writeFile(keyFile, new Uint8Array(32).fill(9), { mode: 0o600 });
    await writeFile(join(dir, "ks.xml"), `<keystore type='local'><root>${dir}/own</root><masterkey file='${keyFile}'/></keystore>`);
    const cfg = await loadKeystoreConfig(join(dir, "ks.xml"));
    let km = await openKeystore(cfg);
    const id = await km.createKey({ project: "p" }, { length: 128 });
    await km.close();
    km = await openKeystore(cfg);
    expect((await km.getKey({ project: "p" }, id)).value).to.have.length(16);
    await km.close();
    // the root really is sealed under that key file
    const wrong = await rejection(SecretStore.open({ root: join(dir, "own"), masterKey: { key: new Uint8Array(32) } }));
    expect(String((wrong as Error).message)).to.match(/wrong master key/);
  });

  it("refuses a local keystore with neither <root> nor an open store", async function () {
    const e = await rejection(openKeystore({ type: "local" }));
    expect(e).to.be.instanceOf(VirError);
    expect((e as VirError).codeName).to.equal("INVALID_ARG");
    expect((e as VirError).detail).to.equal("a local keystore without <root> needs an open secret store");
  });

  it("opens a Barbican keystore from its config (no request is made at open)", async function () {
    const km = await openKeystore(parseKeystoreXML("<keystore type='barbican'><endpoint>http://127.0.0.1:9/v1</endpoint><auth type='noauth'/></keystore>"));
    expect(km.type).to.equal("barbican");
    await km.close();
  });

  it("opens a KMIP keystore from its config, reading its TLS files (no connection at open)", async function () {
    for (const f of ["ca.pem", "c.pem", "c.key"]) await writeFile(join(dir, f), "-----BEGIN X-----\n-----END X-----\n");
    const xml = `<keystore type='kmip'><host>127.0.0.1</host><port>9</port><tls><ca>${dir}/ca.pem</ca><cert>${dir}/c.pem</cert><key>${dir}/c.key</key></tls></keystore>`;
    const km = await openKeystore(parseKeystoreXML(xml));
    expect(km.type).to.equal("kmip");
    await km.close();
    // a TLS file that is not there is reported at open, by path
    const e = await rejection(openKeystore(parseKeystoreXML(xml.replace("c.key", "gone.key"))));
    expect(e).to.be.instanceOf(KeyManagerError);
    expect((e as Error).message).to.include(`${dir}/gone.key`);
  });

  it("answers an unknown type with CONFIG_UNSUPPORTED", async function () {
    for (const type of ["vault", "x".repeat(500)]) {
      const e = await rejection(openKeystore({ type } as unknown as KeystoreConfig));
      expect(e).to.be.instanceOf(VirError);
      expect((e as VirError).codeName).to.equal("CONFIG_UNSUPPORTED");
      expect((e as VirError).message).to.equal(`unsupported configuration: keystore type '${type.slice(0, 64)}' is not available`);
    }
  });

  it("names the file when a configuration cannot be read or parsed", async function () {
    const missing = join(dir, "nope.xml");
    const e = await rejection(loadKeystoreConfig(missing));
    expect((e as VirError).codeName).to.equal("READ_FAILED");
    expect((e as VirError).message).to.equal(`cannot read keystore configuration '${missing}': ENOENT`);
    await writeFile(join(dir, "bad.xml"), "<keystore type='local'>\n<root>\n");
    const p = await rejection(loadKeystoreConfig(join(dir, "bad.xml")));
    expect((p as VirError).codeName).to.equal("XML_DETAIL");
    expect((p as VirError).message).to.include(join(dir, "bad.xml"));
  });
});
