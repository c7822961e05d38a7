// The real Barbican peer for the interop tests: where it is, fresh tenants,
// raw requests that bypass our client (to see what Barbican itself says),
// and a private second instance that a test may stop.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Context } from "../../../src/keystore/key-manager.js";

const run = promisify(execFile);

/** The shared Barbican API started by ../shared/peers/barbican.sh (no-auth). */
export const BARBICAN_URL = process.env.BARBICAN_URL ?? "http://127.0.0.1:19311/v1";
const PEERS = process.env.VIRSECRET_PEERS ?? join(import.meta.dirname, "../../../../shared/peers");

/** A context of a project that owns nothing yet (no-auth Barbican takes any project id). */
export function freshContext(label: string): Context {
  return { project: `vs-${label}-${randomUUID()}`, user: `user-${label}` };
}

/** One request straight to Barbican, as curl would send it. */
export async function raw(endpoint: string, method: string, path: string, project: string): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${endpoint}/${path}`, { method, headers: { "X-Project-Id": project, Accept: "application/json" } });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A second Barbican API of our own (own port, own sqlite dir), started and stopped with the peer scripts. */
export class PrivateBarbican {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  private get env(): NodeJS.ProcessEnv {
    return { ...process.env, BARBICAN_DIR: this.dir, BARBICAN_PORT: String(this.port), BARBICAN_SKIP_APT: "1" };
  }

  static async start(): Promise<PrivateBarbican> {
    const b = new PrivateBarbican(mkdtempSync(join(tmpdir(), "vs-barbican-")), await freePort());
    await b.resume();
    return b;
  }

  /** (Re)start on the same port and database: the data survives a stop. */
  async resume(): Promise<void> {
    await run("bash", [join(PEERS, "barbican.sh")], { env: this.env, timeout: 60_000 });
  }

  async stop(): Promise<void> {
    await run("bash", [join(PEERS, "barbican-stop.sh")], { env: this.env, timeout: 30_000 });
  }

  /** The server's process group id (it runs under setsid), for SIGSTOP/SIGCONT. */
  pid(): number {
    return Number(readFileSync(join(this.dir, "server.pid"), "utf8").trim());
  }

  async destroy(): Promise<void> {
    await this.stop().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
