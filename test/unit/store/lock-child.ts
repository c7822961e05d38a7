// A second process for the lock tests (not a test file itself).
//   lock-child.ts ROOT try   → tries to open ROOT, prints one JSON line, exits
//   lock-child.ts ROOT hold  → opens ROOT, prints {"ready":pid}, then obeys stdin lines:
//                               "put K" writes a record, "close" closes and exits
import * as readline from "node:readline";
import { SecretStore } from "../../../src/store/db.js";

const [root, mode] = process.argv.slice(2);
const key = new Uint8Array(32).fill(7);

function say(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

if (mode === "try") {
  try {
    const s = await SecretStore.open({ root, masterKey: { key } });
    await s.close();
    say({ ok: true });
  } catch (e) {
    const v = e as { codeName?: string; message?: string };
    say({ ok: false, code: v.codeName, message: v.message });
  }
} else {
  const s = await SecretStore.open({ root, masterKey: { key } });
  say({ ready: process.pid });
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    const [cmd, arg] = line.split(" ");
    if (cmd === "put") {
      await s.batch([{ type: "put", space: "secrets", key: arg, data: { by: process.pid }, secret: new TextEncoder().encode(arg) }]);
      say({ put: arg });
    } else if (cmd === "close") {
      await s.close();
      say({ closed: true });
      break;
    }
  }
  rl.close();
}
