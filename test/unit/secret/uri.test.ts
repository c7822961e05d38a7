import { expect } from "chai";
import { defaultSecretURI, embedURI, parseSecretURI } from "../../../src/secret/uri.js";
import { expectVirError } from "./helpers.js";

describe("secret/uri", () => {
  it("parses secret:///embed?root=/abs", () => {
    expect(parseSecretURI("secret:///embed?root=/srv/r").root).to.equal("/srv/r");
    expect(parseSecretURI("secret:///embed?foo=1&root=/a%20b/c").root).to.equal("/a b/c");
  });
  it("missing root → invalid argument", async () => {
    await expectVirError(() => parseSecretURI("secret:///embed"), "INVALID_ARG", "invalid argument: Missing URI parameter 'root'");
    await expectVirError(() => parseSecretURI("secret:///embed?root="), "INVALID_ARG", "invalid argument: Missing URI parameter 'root'");
  });
  it("relative root → unsupported configuration", async () => {
    await expectVirError(() => parseSecretURI("secret:///embed?root=rel/dir"), "CONFIG_UNSUPPORTED", "unsupported configuration: root path must be absolute");
  });
  it("other paths and schemes → URI must be secret:///embed", async () => {
    for (const u of ["secret:///system?root=/x", "secret:///session", "qemu:///embed?root=/x", "secret://host/embed?root=/x", "nonsense"]) {
      await expectVirError(() => parseSecretURI(u), "INTERNAL_ERROR", "internal error: URI must be secret:///embed");
    }
  });
  it("embedURI round-trips awkward paths", () => {
    for (const p of ["/a b/c", "/x&y/z=1", "/ü/%"]) expect(parseSecretURI(embedURI(p)).root).to.equal(p);
  });
  it("default URI rule", () => {
    expect(defaultSecretURI({ VIRSECRET_DEFAULT_URI: "secret:///embed?root=/q" }, 1000)).to.equal("secret:///embed?root=/q");
    expect(defaultSecretURI({}, 0)).to.equal("secret:///embed?root=/var/lib/virsecret");
    expect(defaultSecretURI({ XDG_DATA_HOME: "/xdg", HOME: "/home/u" }, 1000)).to.equal("secret:///embed?root=/xdg/virsecret");
    expect(defaultSecretURI({ HOME: "/home/u" }, 1000)).to.equal("secret:///embed?root=/home/u/.local/share/virsecret");
    expect(defaultSecretURI({ XDG_DATA_HOME: "relative", HOME: "/home/u" }, 1000)).to.equal("secret:///embed?root=/home/u/.local/share/virsecret");
  });
});
