// Awaiting a call that must fail: the error comes back for the test's own
// checks, and a success fails the test instead of passing silently.
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

/** Await a rejection and return what was thrown, for checks of any kind; a success fails the test. */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  let value: unknown;
  try {
    value = await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error(`expected a rejection, got a result: ${String(value)}`);
}
