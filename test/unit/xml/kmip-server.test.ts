// <kmip-server> configuration: every accepted form parses to the expected
// config AND validates against schemas/kmip-server.rng; every refused form
// gives a VirError naming what is wrong (and the schema agrees where it can
// see the fault).
import { expect } from "chai";
import type { VirError } from "../../../src/errors.js";
import { parseKmipServerXML, type ParseKmipServerXMLOptions, type ResolvedKmipServerConfig } from "../../../src/xml/kmip-server.js";
import { relaxNG } from "../../helpers/relaxng.js";
import { expectXmlError, virErrorOf } from "../../helpers/vir-error.js";

const schema = relaxNG("kmip-server.rng");
const parseError = (xml: string, opts: ParseKmipServerXMLOptions = { baseDir: "/etc/kmip" }): VirError =>
  virErrorOf(() => parseKmipServerXML(xml, opts), xml);

const TLS = "<tls><ca>/pki/ca.pem</ca><cert>/pki/s.pem</cert><key>/pki/s.key</key></tls>";
const STORE = "<data dir='/var/lib/kmip'/><seal-key file='/etc/kmip/seal.key'/>";
/** a document with `extra` added to a valid minimal body */
const doc = (body: string): string => `<kmip-server>${body}</kmip-server>`;

const DEFAULTS: ResolvedKmipServerConfig = {
  host: "127.0.0.1",
  port: 5696,
  ca: "/pki/ca.pem",
  cert: "/pki/s.pem",
  key: "/pki/s.key",
  tlsMinVersion: "TLSv1.2",
  dataDir: "/var/lib/kmip",
  sealKeyFile: "/etc/kmip/seal.key",
  maxMessageBytes: 1048576,
  maxResponseBytes: 8388608,
  idleTimeoutMs: 300000,
};

const GOOD: Array<[string, string, ResolvedKmipServerConfig]> = [
  ["minimal: defaults filled", doc(TLS + STORE), DEFAULTS],
  [
    "everything, any order, blanks around text",
    `<kmip-server>
       <limits max-message-bytes='65536' idle-timeout-ms='5000' max-response-bytes='131072'/>
       <seal-key file='/etc/kmip/seal.key'/>
       <tls min-version='1.3'>
         <key> /pki/s.key </key>
         <ca>/pki/ca.pem</ca>
         <cert>/pki/s.pem</cert>
       </tls>
       <data dir='/var/lib/kmip'/>
       <listen host='0.0.0.0' port='15696'/>
     </kmip-server>`,
    { ...DEFAULTS, host: "0.0.0.0", port: 15696, tlsMinVersion: "TLSv1.3", maxMessageBytes: 65536, maxResponseBytes: 131072, idleTimeoutMs: 5000 },
  ],
  ["listen port 0 (any free port), default host", doc(`<listen port='0'/>${TLS}${STORE}`), { ...DEFAULTS, port: 0 }],
  ["listen on a bracketed IPv6 literal", doc(`<listen host='[::1]'/>${TLS}${STORE}`), { ...DEFAULTS, host: "::1" }],
  ["listen on a host name", doc(`<listen host='kmip.example.org'/>${TLS}${STORE}`), { ...DEFAULTS, host: "kmip.example.org" }],
  ["tls min-version 1.2 explicit", doc(`<tls min-version='1.2'><ca>/pki/ca.pem</ca><cert>/pki/s.pem</cert><key>/pki/s.key</key></tls>${STORE}`), DEFAULTS],
  ["limits with one attribute", doc(`${TLS}${STORE}<limits idle-timeout-ms='1'/>`), { ...DEFAULTS, idleTimeoutMs: 1 }],
  ["limits empty", doc(`${TLS}${STORE}<limits/>`), DEFAULTS],
  ["max response at its lower bound", doc(`${TLS}${STORE}<limits max-response-bytes='1024'/>`), { ...DEFAULTS, maxResponseBytes: 1024 }],
  ["max response at its upper bound, blanks around", doc(`${TLS}${STORE}<limits max-response-bytes=' 268435456 '/>`), { ...DEFAULTS, maxResponseBytes: 268435456 }],
  [
    "relative paths resolve against the config directory",
    doc("<tls><ca>pki/ca.pem</ca><cert>./pki/s.pem</cert><key>../shared/s.key</key></tls><data dir='db'/><seal-key file='seal.key'/>"),
    { ...DEFAULTS, ca: "/etc/kmip/pki/ca.pem", cert: "/etc/kmip/pki/s.pem", key: "/etc/shared/s.key", dataDir: "/etc/kmip/db", sealKeyFile: "/etc/kmip/seal.key" },
  ],
  ["seal key in a sibling whose name starts with the data dir's", doc(`${TLS}<data dir='/srv/kmip'/><seal-key file='/srv/kmip-keys/seal'/>`), { ...DEFAULTS, dataDir: "/srv/kmip", sealKeyFile: "/srv/kmip-keys/seal" }],
  ["seal key named '..x' beside the data dir", doc(`${TLS}<data dir='/srv/kmip/db'/><seal-key file='/srv/kmip/..x'/>`), { ...DEFAULTS, dataDir: "/srv/kmip/db", sealKeyFile: "/srv/kmip/..x" }],
];

/** [what, xml, detail, schema also refuses] */
const BAD: Array<[string, string, string | RegExp, boolean]> = [
  ["attribute on the root", `<kmip-server type='x'>${TLS}${STORE}</kmip-server>`, "unexpected attribute 'type' on <kmip-server>", true],
  ["unknown child", doc(`${TLS}${STORE}<port>1</port>`), "unexpected element <port> in <kmip-server>", true],
  ["repeated child", doc(`${TLS}${TLS}${STORE}`), "element <tls> may appear only once in <kmip-server>", true],
  ["text in the root", doc(`${TLS}hello${STORE}`), "unexpected text in <kmip-server>", true],
  ["no tls", doc(STORE), "missing <tls> in <kmip-server>: the KMIP server runs over mutual TLS", true],
  ["no data", doc(`${TLS}<seal-key file='/k'/>`), "missing <data dir='…'/> in <kmip-server>: where the KMIP objects are stored", true],
  ["no seal key", doc(`${TLS}<data dir='/d'/>`), "missing <seal-key file='…'/> in <kmip-server>: the key that seals the stored objects", true],
  ["data without dir", doc(`${TLS}<data/><seal-key file='/k'/>`), "<data> needs a 'dir' attribute", true],
  ["data with an empty dir", doc(`${TLS}<data dir=' '/><seal-key file='/k'/>`), "<data> needs a 'dir' attribute", true],
  ["data with a child", doc(`${TLS}<data dir='/d'><x/></data><seal-key file='/k'/>`), "unexpected element <x> in <data>", true],
  ["data with text", doc(`${TLS}<data dir='/d'>db</data><seal-key file='/k'/>`), "unexpected text in <data>", true],
  ["seal-key without file", doc(`${TLS}<data dir='/d'/><seal-key/>`), "<seal-key> needs a 'file' attribute", true],
  ["seal-key with a wrong attribute", doc(`${TLS}<data dir='/d'/><seal-key path='/k'/>`), "unexpected attribute 'path' on <seal-key>", true],
  ["seal key inside the data dir", doc(`${TLS}<data dir='/d'/><seal-key file='/d/keys/seal'/>`), "<seal-key file> must lie outside <data dir>: a copy of the data would carry its own key", false],
  ["seal key is the data dir", doc(`${TLS}<data dir='/d'/><seal-key file='/d/'/>`), "<seal-key file> must lie outside <data dir>: a copy of the data would carry its own key", false],
  ["tls without ca", doc(`<tls><cert>/c</cert><key>/k</key></tls>${STORE}`), "missing <ca> in <tls>: the CA that signs client certificates (mutual TLS)", true],
  ["tls without cert", doc(`<tls><ca>/a</ca><key>/k</key></tls>${STORE}`), "missing <cert> in <tls>: the server certificate", true],
  ["tls without key", doc(`<tls><ca>/a</ca><cert>/c</cert></tls>${STORE}`), "missing <key> in <tls>: the server certificate's private key", true],
  ["tls with an unknown child", doc(`<tls><ca>/a</ca><cert>/c</cert><key>/k</key><crl>/r</crl></tls>${STORE}`), "unexpected element <crl> in <tls>", true],
  ["tls with a repeated ca", doc(`<tls><ca>/a</ca><ca>/b</ca><cert>/c</cert><key>/k</key></tls>${STORE}`), "element <ca> may appear only once in <tls>", true],
  ["tls with text", doc(`<tls>x<ca>/a</ca><cert>/c</cert><key>/k</key></tls>${STORE}`), "unexpected text in <tls>", true],
  ["tls version attribute (the client's spelling)", doc(`<tls version='1.2'><ca>/a</ca><cert>/c</cert><key>/k</key></tls>${STORE}`), "unexpected attribute 'version' on <tls>", true],
  ["tls min-version 1.1", doc(`<tls min-version='1.1'><ca>/a</ca><cert>/c</cert><key>/k</key></tls>${STORE}`), "<tls min-version> must be '1.2' or '1.3', got '1.1'", true],
  ["empty ca", doc(`<tls><ca> </ca><cert>/c</cert><key>/k</key></tls>${STORE}`), "<tls> <ca> must be a file path, got ''", true],
  ["ca with a child element", doc(`<tls><ca><path>/a</path></ca><cert>/c</cert><key>/k</key></tls>${STORE}`), "element <ca> must hold text only", true],
  ["cert with an attribute", doc(`<tls><ca>/a</ca><cert type='pem'>/c</cert><key>/k</key></tls>${STORE}`), "unexpected attribute 'type' on <cert>", true],
  ["control character in a path", doc(`<tls><ca>/a&#9;b</ca><cert>/c</cert><key>/k</key></tls>${STORE}`), "<tls> <ca> must be a file path, got '/a\tb'", true],
  ["listen host not a name", doc(`<listen host='bad host!'/>${TLS}${STORE}`), "<listen host> must be a host name or an IP address, got 'bad host!'", true],
  ["listen port out of range", doc(`<listen port='65536'/>${TLS}${STORE}`), "<listen port> must be an integer from 0 to 65535, got '65536'", false],
  ["listen port not a number", doc(`<listen port='http'/>${TLS}${STORE}`), "<listen port> must be an integer from 0 to 65535, got 'http'", true],
  ["listen port negative", doc(`<listen port='-1'/>${TLS}${STORE}`), "<listen port> must be an integer from 0 to 65535, got '-1'", true],
  ["listen with an unknown attribute", doc(`<listen address='::'/>${TLS}${STORE}`), "unexpected attribute 'address' on <listen>", true],
  ["listen with a child", doc(`<listen><port>1</port></listen>${TLS}${STORE}`), "unexpected element <port> in <listen>", true],
  ["max message too small", doc(`${TLS}${STORE}<limits max-message-bytes='1023'/>`), "<limits max-message-bytes> must be an integer from 1024 to 67108864, got '1023'", false],
  ["max message too large", doc(`${TLS}${STORE}<limits max-message-bytes='67108865'/>`), "<limits max-message-bytes> must be an integer from 1024 to 67108864, got '67108865'", false],
  ["max response too small", doc(`${TLS}${STORE}<limits max-response-bytes='1023'/>`), "<limits max-response-bytes> must be an integer from 1024 to 268435456, got '1023'", false],
  ["max response too large", doc(`${TLS}${STORE}<limits max-response-bytes='268435457'/>`), "<limits max-response-bytes> must be an integer from 1024 to 268435456, got '268435457'", false],
  ["max response negative", doc(`${TLS}${STORE}<limits max-response-bytes='-1'/>`), "<limits max-response-bytes> must be an integer from 1024 to 268435456, got '-1'", true],
  ["max response with a unit", doc(`${TLS}${STORE}<limits max-response-bytes='8MiB'/>`), "<limits max-response-bytes> must be an integer from 1024 to 268435456, got '8MiB'", true],
  ["max response empty", doc(`${TLS}${STORE}<limits max-response-bytes=''/>`), "<limits max-response-bytes> must be an integer from 1024 to 268435456, got ''", true],
  ["idle timeout zero", doc(`${TLS}${STORE}<limits idle-timeout-ms='0'/>`), "<limits idle-timeout-ms> must be an integer from 1 to 86400000, got '0'", false],
  ["idle timeout with a unit", doc(`${TLS}${STORE}<limits idle-timeout-ms='5s'/>`), "<limits idle-timeout-ms> must be an integer from 1 to 86400000, got '5s'", true],
  ["limits with an unknown attribute", doc(`${TLS}${STORE}<limits max-connections='5'/>`), "unexpected attribute 'max-connections' on <limits>", true],
  ["namespaced child", `<kmip-server xmlns:x='urn:x'>${TLS}${STORE}<x:listen/></kmip-server>`, "unexpected element <listen> in <kmip-server>", true],
  ["huge value is clipped", doc(`<listen host='${"h".repeat(300)}'/>${TLS}${STORE}`), /^<listen host> must be a host name or an IP address, got 'h{80}…'$/, false],
];

describe("kmip-server configuration XML", function () {
  describe("accepted", function () {
    for (const [what, xml, want] of GOOD) {
      it(`${what}: parses and validates against kmip-server.rng`, function () {
        expect(parseKmipServerXML(xml, { baseDir: "/etc/kmip" })).to.deep.equal(want);
        expect(schema.accepts(xml), "kmip-server.rng").to.equal(true);
      });
    }
  });

  describe("refused", function () {
    for (const [what, xml, msg, schemaToo] of BAD) {
      it(`${what}: XML_ERROR naming the fault${schemaToo ? ", schema agrees" : ""}`, function () {
        expectXmlError(parseError(xml), "KEYSTORE", msg);
        if (schemaToo) expect(schema.accepts(xml), "kmip-server.rng").to.equal(false);
      });
    }

    it("a relative path with no base directory is refused, naming the path", function () {
      const e = parseError(doc(`${TLS}<data dir='db'/><seal-key file='/k'/>`), {});
      expect(e.codeName).to.equal("XML_ERROR");
      expect(e.detail).to.equal("<data dir> is a relative path ('db') and there is no configuration file directory to resolve it against");
    });

    it("malformed XML: the reader's error, without quoting the document", function () {
      const bad = parseError("<kmip-server><tls><key>SECRET-LOOKING</key></tls>", { docName: "/etc/kmip/server.xml" });
      expect(bad.codeName).to.equal("XML_DETAIL");
      expect(bad.message).to.match(/^\/etc\/kmip\/server\.xml:1: /);
      expect(bad.message).to.not.contain("SECRET-LOOKING");
      const anon = parseError("<kmip-server>");
      expect(anon.message).to.match(/^\(kmip_server_definition\):1: /);
    });

    it("a wrong root and a DOCTYPE are refused", function () {
      const root = parseError("<keystore type='kmip'/>");
      expect(root.codeName).to.equal("XML_ERROR");
      expect(root.detail).to.equal("expecting root element of 'kmip-server', not 'keystore'");
      expect(parseError(`<!DOCTYPE k [<!ENTITY x 'y'>]>${doc(TLS + STORE)}`).codeName).to.equal("XML_DETAIL");
    });
  });
});
