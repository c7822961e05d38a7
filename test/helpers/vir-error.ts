// What a refused configuration document must look like: a VirError (never a
// bare Error), XML_ERROR in the given domain, the detail naming the fault and
// the message in libvirt's "XML error: <detail>" form.
import { expect } from "chai";
import { ErrorCode, ErrorDomain, VirError, type ErrorDomainName } from "../../src/errors.js";

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
