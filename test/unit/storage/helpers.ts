// Shared helpers for the storage unit tests: libvirt's fixture files and
// exact VirError assertions.
import { readFileSync } from "node:fs";
import { expect } from "chai";
import { ErrorCode, ErrorDomain, VirError, type ErrorCodeName } from "../../../src/errors.js";

const FIXTURES = new URL("fixtures/libvirt/", import.meta.url);

/** A verbatim libvirt 9.0 fixture: "xmlin/x.xml", "xmlout/x.xml" or "argv/x.argv". */
export function fixture(rel: string): string {
  return readFileSync(new URL(rel, FIXTURES), "utf8");
}

/**
 * libvirt's .argv test files print one option (with its value) per line,
 * each line but the last ending in " \"; no argument contains a space.
 */
export function argvFixture(name: string): string[] {
  return fixture(`argv/${name}.argv`).replace(/ \\\n/g, " ").trim().split(/\s+/);
}

/** Assert a sync or async call fails with a VirError of this code and full message. */
export async function expectVirError(
  fn: () => unknown,
  code: ErrorCodeName,
  message: string | RegExp,
  domain: keyof typeof ErrorDomain = "STORAGE",
): Promise<VirError> {
  let caught: unknown;
  try {
    await fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, "expected a VirError").to.be.instanceOf(VirError);
  const e = caught as VirError;
  expect(e.codeName).to.equal(code);
  expect(e.code).to.equal(ErrorCode[code]);
  expect(e.domain).to.equal(ErrorDomain[domain]);
  if (typeof message === "string") expect(e.message).to.equal(message);
  else expect(e.message).to.match(message);
  return e;
}

/** Same, for calls that are synchronous (no await needed by the caller). */
export function expectVirErrorSync(fn: () => unknown, code: ErrorCodeName, message: string | RegExp, domain: keyof typeof ErrorDomain = "STORAGE"): VirError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, "expected a VirError").to.be.instanceOf(VirError);
  const e = caught as VirError;
  expect(e.codeName).to.equal(code);
  expect(e.domain).to.equal(ErrorDomain[domain]);
  if (typeof message === "string") expect(e.message).to.equal(message);
  else expect(e.message).to.match(message);
  return e;
}
