// `npm run bench`: side-by-side figures, not pass/fail tests.
//   BENCH_N        secrets/records for the driver and store figures (default 10000)
//   BENCH_SECONDS  seconds per KMIP pairing (default 2); BENCH_SKIP=kmip skips KMIP
import { benchKmip } from "./kmip.js";
import { benchLuks } from "./luks.js";
import { benchSecrets } from "./secret.js";
import { benchStore } from "./store.js";

const n = Number(process.env.BENCH_N ?? 10000);
const seconds = Number(process.env.BENCH_SECONDS ?? 2);
const skip = new Set((process.env.BENCH_SKIP ?? "").split(",").filter(Boolean));

console.log(`# secret driver at ${n} secrets (real LevelDB, every write synced)`);
console.table(await benchSecrets(n));

console.log(`# sealed store at ${n} records`);
console.table([await benchStore(n)]);

console.log("# native LUKS backend (64 MiB volumes, 1000 PBKDF2 iterations)");
console.table((await benchLuks(64)).rows);

if (!skip.has("kmip")) {
  console.log(`# KMIP Create+Get round trips per second (${seconds} s each; PyKMIP peer from ../shared/peers/pykmip.sh)`);
  console.table(await benchKmip(seconds));
}
