// How a refused call must fail: a VirError (never a bare Error) with the
// expected code and text; for configuration documents, XML_ERROR in the given
// domain with the detail naming the fault, in libvirt's "XML error: <detail>" form.
import { expect } from "chai";
import { ErrorCode, ErrorDomain, VirError, type ErrorCodeName, type ErrorDomainName } from "../../src/errors.js";

/** The VirError `fn` throws; fails the test when it throws something else or nothing. */
export function virErrorOf(fn: () => unknown, what: string): VirError {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(VirError);
    return e as VirError;
  }
  throw new Error(`expected a VirError for ${what}`);
}

/** `e` is XML_ERROR in `domain`; its detail is `msg` (a string: exactly; a RegExp: matching). */
export function expectXmlError(e: VirError, domain: ErrorDomainName, msg: string | RegExp): void {
  expect(e.codeName).to.equal("XML_ERROR");
  expect(e.code).to.equal(ErrorCode.XML_ERROR);
  expect(e.domain).to.equal(ErrorDomain[domain]);
  if (typeof msg === "string") expect(e.detail).to.equal(msg);
  else expect(e.detail).to.match(msg);
  expect(e.message).to.equal(`XML error: ${e.detail}`);
}

/** A sync or async call fails with a VirError of this code and this full message (a RegExp: matching). */
export async function expectVirError(fn: () => unknown, code: ErrorCodeName, message: string | RegExp): Promise<VirError> {
  let caught: unknown;
  try {
    await fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, "expected a VirError").to.be.instanceOf(VirError);
  const e = caught as VirError;
  expectVirErrorIs(e, code, message);
  return e;
}

/** `e` has this code and this full message (a RegExp: matching). */
export function expectVirErrorIs(e: VirError, code: ErrorCodeName, message: string | RegExp): void {
  expect(e.codeName, e.message).to.equal(code);
  if (typeof message === "string") expect(e.message).to.equal(message);
  else expect(e.message).to.match(message);
}
