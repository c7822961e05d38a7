// src/storage/qemu-img.ts, the command line: equality with libvirt 9.0's
// storagevolxml2argv fixtures, and a test per format rule of spec §5.2.
import { expect } from "chai";
import { buildCreateArgv, checkCreateRules, isCpuUsageFailure, qemuEscapeComma, requireSingleSecret } from "../../../src/storage/qemu-img.js";
import type { VolumeDef } from "../../../src/storage/volume-def.js";
import { parseVolumeXML } from "../../../src/xml/volume.js";
import { argvFixture, expectVirErrorSync, fixture } from "./helpers.js";

// libvirt's test passes this path for the secret file
const SECRET_FILE = "/path/to/secretFile";
const SECRET = "<secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/>";

function fromFixture(name: string): VolumeDef {
  return parseVolumeXML(fixture(`xmlin/${name}.xml`), { capacity: "optional" });
}

/** A volume in /srv/pool with the given image format and <encryption> element. */
function vol(format: string, enc: string, name = "v1.img"): VolumeDef {
  return parseVolumeXML(`<volume><name>${name}</name><capacity unit='MiB'>16</capacity>
    <target><path>/srv/pool/${name}</path><format type='${format}'/>${enc}</target></volume>`);
}

describe("storage/qemu-img argv", () => {
  describe("libvirt's .argv fixtures", () => {
    const cases: Array<[string, string, { preallocateMetadata?: boolean }?]> = [
      // the three encryption cases of the issue
      ["vol-luks", "luks"],
      ["vol-luks-cipher", "luks-cipher"],
      ["vol-qcow2-luks", "qcow2-luks"],
      // plain qcow2 cases of the same test (same option builder)
      ["vol-qcow2", "qcow2-compat"],
      ["vol-qcow2-1.1", "qcow2-1.1"],
      ["vol-qcow2-lazy", "qcow2-lazy"],
      ["vol-qcow2-clusterSize", "qcow2-clusterSize"],
      ["vol-qcow2-nocow", "qcow2-nocow-compat"],
      ["vol-qcow2-nobacking", "qcow2-nobacking-prealloc-compat", { preallocateMetadata: true }],
      ["vol-qcow2-nocapacity-backing", "qcow2-nocapacity"],
      ["vol-qcow2-zerocapacity", "qcow2-zerocapacity"],
    ];
    for (const [xml, argv, opts] of cases) {
      it(`${xml} → ${argv}.argv`, () => {
        expect(buildCreateArgv(fromFixture(xml), { secretPath: SECRET_FILE, ...opts })).to.deep.equal(argvFixture(argv));
      });
    }

    it("vol-qcow2-encryption is refused (libvirt's expected failure)", () => {
      expectVirErrorSync(
        () => buildCreateArgv(fromFixture("vol-qcow2-encryption"), { secretPath: SECRET_FILE }),
        "CONFIG_UNSUPPORTED", "unsupported configuration: creation of qcow2 encrypted image is not supported",
      );
    });

    it("vol-qcow2-0.10-lazy is refused: lazy refcounts need compat 1.1", () => {
      expectVirErrorSync(
        () => buildCreateArgv(fromFixture("vol-qcow2-0.10-lazy"), {}),
        "CONFIG_UNSUPPORTED", "unsupported configuration: lazy_refcounts not supported with compat level 0.10",
      );
    });
  });

  describe("iteration time (ours; libvirt leaves qemu's default)", () => {
    it("raw LUKS gets iter-time at the end of the LUKS options", () => {
      const argv = buildCreateArgv(fromFixture("vol-luks-cipher"), { secretPath: SECRET_FILE, iterTimeMs: 10 });
      expect(argv[argv.indexOf("-o") + 1]).to.equal(
        "key-secret=LuksDemo.img_encrypt0,cipher-alg=serpent-256,cipher-mode=cbc,hash-alg=sha256,ivgen-alg=plain64,ivgen-hash-alg=sha256,iter-time=10",
      );
    });
    it("qcow2 gets encrypt.iter-time before compat", () => {
      const argv = buildCreateArgv(fromFixture("vol-qcow2-luks"), { secretPath: SECRET_FILE, iterTimeMs: 25 });
      expect(argv[argv.indexOf("-o") + 1]).to.equal(
        "backing_fmt=raw,encrypt.format=luks,encrypt.key-secret=OtherDemoLuks.img_encrypt0,encrypt.iter-time=25,compat=0.10",
      );
    });
    it("rejects a non-positive or fractional iteration time", () => {
      for (const t of [0, -5, 1.5]) {
        expectVirErrorSync(() => buildCreateArgv(fromFixture("vol-luks"), { secretPath: SECRET_FILE, iterTimeMs: t }), "INVALID_ARG", /iteration time/);
      }
    });
  });

  describe("spec §5.2 format rules", () => {
    it("exactly one <secret>: none", () => {
      expectVirErrorSync(
        () => buildCreateArgv(vol("raw", "<encryption format='luks'/>"), { secretPath: SECRET_FILE }),
        "INVALID_ARG", "invalid argument: A single <secret type='passphrase'...> element is expected in encryption description",
      );
    });
    it("exactly one <secret>: format='default' with none", () => {
      expectVirErrorSync(
        () => requireSingleSecret(vol("qcow2", "<encryption format='default'/>")),
        "INVALID_ARG", "invalid argument: A single <secret type='passphrase'...> element is expected in encryption description",
      );
    });
    it("exactly one <secret>: two", () => {
      expectVirErrorSync(
        () => buildCreateArgv(vol("raw", `<encryption format='luks'>${SECRET}<secret type='passphrase' usage='/x'/></encryption>`), { secretPath: SECRET_FILE }),
        "INVALID_ARG", "invalid argument: A single <secret type='passphrase'...> element is expected in encryption description",
      );
    });
    it("qcow encryption on qcow2 is refused", () => {
      expectVirErrorSync(() => buildCreateArgv(vol("qcow2", `<encryption format='qcow'>${SECRET}</encryption>`), { secretPath: SECRET_FILE }),
        "CONFIG_UNSUPPORTED", "unsupported configuration: creation of qcow2 encrypted image is not supported");
    });
    it("default encryption on qcow2 is refused", () => {
      expectVirErrorSync(() => buildCreateArgv(vol("qcow2", `<encryption format='default'>${SECRET}</encryption>`), { secretPath: SECRET_FILE }),
        "CONFIG_UNSUPPORTED", "unsupported configuration: creation of qcow2 encrypted image is not supported");
    });
    it("qcow encryption on a qcow (v1) volume is refused the same way", () => {
      expectVirErrorSync(() => buildCreateArgv(vol("qcow", `<encryption format='qcow'>${SECRET}</encryption>`), { secretPath: SECRET_FILE }),
        "CONFIG_UNSUPPORTED", "unsupported configuration: creation of qcow2 encrypted image is not supported");
    });
    for (const f of ["qcow", "default", "luks2"]) {
      it(`raw with ${f} encryption → only luks`, () => {
        expectVirErrorSync(() => buildCreateArgv(vol("raw", `<encryption format='${f}'>${SECRET}</encryption>`), { secretPath: SECRET_FILE }),
          "INTERNAL_ERROR", "internal error: Only luks encryption is supported for raw files");
      });
    }
    it("qcow2 with luks2 → the enum number", () => {
      expectVirErrorSync(() => buildCreateArgv(vol("qcow2", `<encryption format='luks2'>${SECRET}</encryption>`), { secretPath: SECRET_FILE }),
        "CONFIG_UNSUPPORTED", "unsupported configuration: unsupported volume encryption format 3");
    });
    for (const f of ["vmdk", "qcow", "vdi", "qed"]) {
      it(`${f} with luks → unsupported with format ${f}`, () => {
        expectVirErrorSync(() => buildCreateArgv(vol(f, `<encryption format='luks'>${SECRET}</encryption>`), { secretPath: SECRET_FILE }),
          "CONFIG_UNSUPPORTED", `unsupported configuration: volume encryption unsupported with format ${f}`);
      });
    }
    it("the engine attribute is ignored (librbd still makes a luks file)", () => {
      const argv = buildCreateArgv(vol("raw", `<encryption format='luks' engine='librbd'>${SECRET}</encryption>`), { secretPath: SECRET_FILE });
      expect(argv.slice(0, 4)).to.deep.equal(["qemu-img", "create", "-f", "luks"]);
    });
    it("a luks volume needs a secret file path", () => {
      expectVirErrorSync(() => buildCreateArgv(vol("raw", `<encryption format='luks'>${SECRET}</encryption>`), {}), "INTERNAL_ERROR", /secret file path/);
    });
    it("the option checks: compat, features and preallocation only for qcow2; no backing store for raw", () => {
      expectVirErrorSync(() => checkCreateRules(vol("raw", "<compat>1.1</compat>")), "CONFIG_UNSUPPORTED", "unsupported configuration: compatibility option only available with qcow2");
      // parsing <features> implies compat 1.1, so drop it to reach the features check
      const withFeatures = vol("vmdk", "<features/>");
      const { compat: _implied, ...target } = withFeatures.target;
      expectVirErrorSync(() => checkCreateRules({ ...withFeatures, target }),
        "CONFIG_UNSUPPORTED", "unsupported configuration: format features only available with qcow2");
      expectVirErrorSync(() => checkCreateRules(vol("raw", ""), { preallocateMetadata: true }), "CONFIG_UNSUPPORTED", "unsupported configuration: metadata preallocation only available with qcow2");
      const rawBacked = parseVolumeXML("<volume><name>r</name><capacity>1</capacity><target><path>/srv/pool/r</path></target><backingStore><path>/dev/null</path></backingStore></volume>");
      expectVirErrorSync(() => buildCreateArgv(rawBacked), "INVALID_ARG", "invalid argument: cannot set backing store for raw volume");
      expectVirErrorSync(() => buildCreateArgv(fromFixture("vol-qcow2-luks"), { secretPath: SECRET_FILE, preallocateMetadata: true }),
        "INVALID_ARG", "invalid argument: metadata preallocation conflicts with backing store");
    });
    it("a backing file that cannot be read is refused", () => {
      const def = parseVolumeXML("<volume><name>q</name><capacity>1</capacity><target><path>/srv/pool/q</path><format type='qcow2'/></target><backingStore><path>/nonexistent/base.img</path><format type='raw'/></backingStore></volume>");
      expectVirErrorSync(() => buildCreateArgv(def), "SYSTEM_ERROR", "inaccessible backing store volume /nonexistent/base.img: No such file or directory");
    });
  });

  describe("escaping and secrecy", () => {
    it("commas in the volume name and secret path are doubled; the target path is passed as is", () => {
      const argv = buildCreateArgv(vol("raw", `<encryption format='luks'>${SECRET}</encryption>`, "a,b.img"), { secretPath: "/run/s,1/secret" });
      expect(argv).to.deep.equal([
        "qemu-img", "create", "-f", "luks",
        "--object", "secret,id=a,,b.img_encrypt0,file=/run/s,,1/secret",
        "-o", "key-secret=a,,b.img_encrypt0",
        "/srv/pool/a,b.img", "16384K",
      ]);
      expect(qemuEscapeComma("x,,y")).to.equal("x,,,,y");
    });
    it("cipher values with commas are doubled", () => {
      const argv = buildCreateArgv(vol("raw", `<encryption format='luks'>${SECRET}<cipher name='a,b' size='256' mode='x,y'/></encryption>`), { secretPath: SECRET_FILE });
      expect(argv[argv.indexOf("-o") + 1]).to.equal("key-secret=v1.img_encrypt0,cipher-alg=a,,b-256,cipher-mode=x,,y");
    });
  });

  describe("isCpuUsageFailure", () => {
    it("matches exactly qemu-img's PBKDF benchmark failure", () => {
      expect(isCpuUsageFailure("qemu-img: /srv/pool/a.img: Unable to get accurate CPU usage\n")).to.equal(true);
      expect(isCpuUsageFailure("qemu-img: b.qcow2: Unable to get accurate CPU usage")).to.equal(true);
      expect(isCpuUsageFailure("qemu-img: a.img: Could not open 'x': No such file or directory\n")).to.equal(false);
      expect(isCpuUsageFailure("qemu-img: a.img: Unable to get accurate CPU usage\nqemu-img: another error\n")).to.equal(false);
      expect(isCpuUsageFailure("Unable to get accurate CPU usage")).to.equal(false);
      expect(isCpuUsageFailure("")).to.equal(false);
    });
  });
});
