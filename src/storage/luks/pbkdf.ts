// PBKDF2 for LUKS1: the async node:crypto call (off the event loop) and the
// iteration count for a target time, as qemu's iter-time and cryptsetup's
// --iter-time choose it: measure this machine's rate, scale to the time.
import { pbkdf2 } from "node:crypto";
import { VirError } from "../../errors.js";
import { checkHash } from "./af.js";

/** Fewer iterations than this are never written (cryptsetup's and qemu's floor for key slots). */
export const MIN_ITERATIONS = 1000;

export function pbkdf2Async(password: Uint8Array, salt: Uint8Array, iterations: number, length: number, hash: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(password, salt, iterations, length, hash, (err, key) => {
      // the node error names only the parameters, never the password
      if (err) reject(new VirError("INTERNAL_ERROR", `PBKDF2-${hash} failed: ${err.message}`, "STORAGE"));
      else resolve(key);
    });
  });
}

/** iterations per millisecond, per "hash:length" (the output length sets the number of PBKDF2 blocks) */
const RATE = new Map<string, number>();

async function measureRate(hash: string, length: number): Promise<number> {
  const salt = Buffer.alloc(32, 0x5a);
  const pass = Buffer.from("benchmark");
  // grow the trial until it takes long enough for the clock to be trusted
  for (let iters = 1000; ; iters *= 4) {
    const t0 = process.hrtime.bigint();
    await pbkdf2Async(pass, salt, iters, length, hash);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms >= 25 || iters >= 1 << 24) return iters / Math.max(ms, 0.001);
  }
}

/**
 * PBKDF2 iterations that take about `timeMs` here for an output of `length`
 * bytes; never below MIN_ITERATIONS. The rate is measured once per process.
 */
export async function iterationsForTime(hash: string, length: number, timeMs: number): Promise<number> {
  checkHash(hash);
  if (!(timeMs > 0) || !Number.isFinite(timeMs)) {
    throw new VirError("INVALID_ARG", `iteration time must be a positive number of milliseconds, not ${timeMs}`, "STORAGE");
  }
  const key = `${hash}:${length}`;
  let rate = RATE.get(key);
  if (rate === undefined) {
    rate = await measureRate(hash, length);
    RATE.set(key, rate);
  }
  return Math.min(0xffffffff, Math.max(MIN_ITERATIONS, Math.round(rate * timeMs)));
}
