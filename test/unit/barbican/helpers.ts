// Test helpers shared by the Barbican unit and interop tests.
import { expect } from "chai";

/** Await a rejection of class `cls` and return the error; a success fails the test. */
export async function expectReject<T extends Error>(p: Promise<unknown>, cls: new (...args: never[]) => T): Promise<T> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(cls);
    return e as T;
  }
  throw new Error(`expected a ${cls.name}, but the call succeeded`);
}
