// Property tests for <volume> XML (src/xml/volume.ts): formatting is a fixed
// point of parse∘format for valid definitions, and no input, arbitrary or a
// mutated valid document, makes the parser throw anything but a VirError.
import { expect } from "chai";
import fc from "fast-check";
import { LLONG_MAX, ULLONG_MAX } from "../../../src/storage/units.js";
import {
  ENCRYPTION_ENGINES,
  ENCRYPTION_FORMATS,
  VOLUME_FORMATS,
  VOLUME_TYPES,
  type VolumeDef,
  type VolumeEncryption,
  type VolumePermissions,
} from "../../../src/storage/volume-def.js";
import { formatUUID } from "../../../src/uuid.js";
import { formatVolumeXML, parseVolumeXML } from "../../../src/xml/volume.js";
import { attrText, mutated, nonEmptyXmlText, onlyVirError } from "./arbitraries.js";

const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });
/** Drop undefined properties (exactOptionalPropertyTypes) */
function clean<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const permissions: fc.Arbitrary<VolumePermissions> = fc
  .record({
    mode: opt(fc.integer({ min: 0, max: 0o777 })),
    // libvirt prints uid/gid through a C int and reads back only -1..UINT_MAX,
    // so ids above INT_MAX do not survive a round trip (in libvirt either)
    owner: opt(fc.integer({ min: 0, max: 0x7fffffff })),
    group: opt(fc.integer({ min: 0, max: 0x7fffffff })),
    label: opt(nonEmptyXmlText()),
  })
  .map(clean);

const encryption: fc.Arbitrary<VolumeEncryption> = fc
  .record({
    format: fc.constantFrom(...ENCRYPTION_FORMATS),
    engine: fc.constantFrom(...ENCRYPTION_ENGINES),
    secrets: fc.array(
      fc.oneof(
        fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => ({ type: "uuid" as const, uuid: formatUUID(b) })),
        attrText(12).map((usage) => ({ type: "usage" as const, usage })),
      ),
      { maxLength: 3 },
    ),
    cipher: opt(
      fc
        .record({ name: attrText(10), size: fc.integer({ min: 0, max: 0xffffffff }), mode: opt(attrText(8)), hash: opt(attrText(8)) })
        .map(clean),
    ),
    ivgen: opt(fc.record({ name: attrText(8), hash: opt(attrText(8)) }).map(clean)),
  })
  // cipher and ivgen exist only for luks, and ivgen only with a cipher
  .map((e) => {
    const cipher = e.format === "luks" ? e.cipher : undefined;
    const ivgen = cipher ? e.ivgen : undefined;
    return clean({ ...e, cipher, ivgen });
  });

const size = fc.bigInt({ min: 0n, max: LLONG_MAX });

const volumeDef: fc.Arbitrary<VolumeDef> = fc
  .record({
    type: fc.constantFrom(...VOLUME_TYPES),
    name: nonEmptyXmlText(),
    key: opt(nonEmptyXmlText()),
    capacity: size,
    allocation: size,
    path: opt(nonEmptyXmlText()),
    format: fc.constantFrom(...VOLUME_FORMATS),
    permissions,
    encryption: opt(encryption),
    compat: opt(fc.tuple(fc.nat(99), fc.nat(99)).map(([a, b]) => `${a}.${b}`)),
    clusterSize: opt(fc.bigInt({ min: 1n, max: ULLONG_MAX })),
    features: opt(fc.record({ lazyRefcounts: fc.boolean(), extendedL2: fc.boolean() })),
    backingStore: opt(fc.record({ path: nonEmptyXmlText(), format: fc.constantFrom(...VOLUME_FORMATS), permissions })),
  })
  .map((r) => ({
    ...clean({ type: r.type, name: r.name, key: r.key, backingStore: r.backingStore }),
    capacity: r.capacity,
    allocation: r.allocation,
    hasAllocation: true,
    target: {
      ...clean({
        path: r.path,
        encryption: r.encryption,
        clusterSize: r.clusterSize,
        features: r.features,
        // features imply qcow2 v3, which the parser records as compat 1.1
        compat: r.compat ?? (r.features ? "1.1" : undefined),
      }),
      format: r.format,
      permissions: r.permissions,
      nocow: false, // libvirt does not format <nocow/>
    },
  }));

describe("property: volume XML", () => {
  it("format(parse(format(def))) === format(def), and parse gives def back", () => {
    fc.assert(
      fc.property(volumeDef, (def) => {
        const xml = formatVolumeXML(def);
        const back = parseVolumeXML(xml);
        expect(formatVolumeXML(back)).to.equal(xml);
        expect(back).to.deep.equal(def);
      }),
      { numRuns: 300 },
    );
  });

  it("arbitrary strings throw only VirError", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: "grapheme-composite" }), fc.string().map((s) => `<volume>${s}</volume>`)), (s) => {
        onlyVirError(() => parseVolumeXML(s));
      }),
      { numRuns: 300 },
    );
  });

  it("mutated valid documents throw only VirError", () => {
    fc.assert(
      fc.property(
        volumeDef.chain((def) => mutated(formatVolumeXML(def))),
        fc.constantFrom("backing", "optional", "required" as const),
        (xml, capacity) => {
          onlyVirError(() => parseVolumeXML(xml, { capacity }));
        },
      ),
      { numRuns: 400 },
    );
  });
});
