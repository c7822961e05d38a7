// The KMIP keystore scenarios 4, 5 and 8 talk to: the PyKMIP peer when it
// runs on this machine (/tmp/pykmip-peer/env), otherwise virsecret's own KMIP
// server started in-process with throwaway certificates, so the scenarios
// run anywhere with Node and openssl (and qemu-utils, or the native reader).
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import * as net from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { openKeystore, startKmipServer, type Context, type KeyManager, type KmipKeystoreConfig } from "../src/index.js";
import { requireOpenssl, type ScenarioContext } from "./lib.js";

const execFileP = promisify(execFile);

/** "auto": PyKMIP when its env file exists and it answers, else ours. */
export type KmipChoice = "auto" | "pykmip" | "virsecret";

export const PYKMIP_PEER_DIR = process.env["KMIP_PEER_DIR"] ?? "/tmp/pykmip-peer";

export interface KmipPeer {
  /** for the step log: which server, where */
  readonly name: string;
  readonly kind: "pykmip" | "virsecret";
  /** a <keystore type='kmip'> configuration reaching it (one identity: the hosts of one cluster) */
  readonly config: KmipKeystoreConfig;
  /** the caller the hosts act as */
  readonly context: Context;
  close(): Promise<void>;
}

const HOST_CONTEXT: Context = { user: "virsecret-scenarios" };

function readPeerEnv(): Record<string, string> | undefined {
  const file = join(PYKMIP_PEER_DIR, "env");
  if (!existsSync(file)) return undefined;
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = /^(\w+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}

async function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(2000, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

async function pykmip(env: Record<string, string>): Promise<KmipPeer> {
  const host = env["KMIP_HOST"]!;
  const port = Number(env["KMIP_PORT"]);
  return {
    name: `PyKMIP at ${host}:${port}`,
    kind: "pykmip",
    // PyKMIP 0.10 speaks exactly TLS 1.2
    config: {
      type: "kmip",
      host,
      port,
      tls: { version: "1.2", ca: env["KMIP_CA"]!, cert: env["KMIP_CERT"]!, key: env["KMIP_KEY"]! },
      poolSize: 2,
      timeoutMs: 30_000,
    },
    context: HOST_CONTEXT,
    close: async () => undefined,
  };
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await execFileP("openssl", args, { cwd, timeout: 30_000 });
}

/** A CA, a server certificate for 127.0.0.1 and one client certificate (EC P-256: quick to make). */
async function throwawayPki(dir: string, clientCN: string): Promise<{ ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await openssl(["req", "-x509", ...ec, "-days", "2", "-sha256", "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=virsecret scenarios CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], dir);
  const issue = async (base: string, cn: string, eku: string): Promise<void> => {
    await writeFile(join(dir, `${base}.ext`),
      `subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=${eku}\nkeyUsage=critical,digitalSignature,keyEncipherment\nbasicConstraints=CA:FALSE\n`);
    await openssl(["req", "-new", ...ec, "-keyout", `${base}.key`, "-out", `${base}.csr`, "-subj", `/CN=${cn}`], dir);
    await openssl(["x509", "-req", "-in", `${base}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", `0x${randomBytes(12).toString("hex")}`,
      "-days", "2", "-sha256", "-extfile", `${base}.ext`, "-out", `${base}.crt`], dir);
  };
  await issue("server", "localhost", "serverAuth");
  await issue("client", clientCN, "clientAuth");
  return {
    ca: join(dir, "ca.crt"),
    serverCert: join(dir, "server.crt"),
    serverKey: join(dir, "server.key"),
    clientCert: join(dir, "client.crt"),
    clientKey: join(dir, "client.key"),
  };
}

async function ours(workdir: string): Promise<KmipPeer> {
  await requireOpenssl();
  const dir = join(workdir, "kmip-server");
  const pki = await throwawayPki(join(dir, "pki"), "virsecret-cluster");
  const server = await startKmipServer({
    host: "127.0.0.1",
    port: 0,
    cert: pki.serverCert,
    key: pki.serverKey,
    ca: pki.ca,
    dataDir: join(dir, "data"),
    // outside the data dir, as a real deployment keeps it
    sealKeyFile: join(dir, "seal.key"),
  });
  return {
    name: `virsecret's KMIP server at 127.0.0.1:${server.port}`,
    kind: "virsecret",
    config: {
      type: "kmip",
      host: "127.0.0.1",
      port: server.port,
      tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey },
      poolSize: 2,
      timeoutMs: 30_000,
    },
    context: HOST_CONTEXT,
    close: () => server.close(),
  };
}

/** The KMIP server for one scenario run; close() it when done (ours stops, PyKMIP keeps running). */
export async function startKmipPeer(workdir: string, choice: KmipChoice = "auto", log?: (s: string) => void): Promise<KmipPeer> {
  if (choice === "virsecret") return ours(workdir);
  const env = readPeerEnv();
  if (choice === "pykmip") {
    if (!env) throw new Error(`the PyKMIP peer is not running: ${join(PYKMIP_PEER_DIR, "env")} is missing (run shared/peers/pykmip.sh)`);
    return pykmip(env);
  }
  if (env && (await answers(env["KMIP_HOST"]!, Number(env["KMIP_PORT"])))) return pykmip(env);
  if (env) log?.(`PyKMIP peer listed in ${join(PYKMIP_PEER_DIR, "env")} does not answer; using virsecret's own KMIP server`);
  return ours(workdir);
}

/** Will a run with `choice` start virsecret's own KMIP server (and so need openssl for its certificates)? */
export async function startsOwnKmipServer(choice: KmipChoice): Promise<boolean> {
  if (choice === "virsecret") return true;
  if (choice === "pykmip") return false;
  const env = readPeerEnv();
  return !(env && (await answers(env["KMIP_HOST"]!, Number(env["KMIP_PORT"]))));
}

export function parseKmipChoice(s: string | undefined): KmipChoice {
  if (s === undefined || s === "" || s === "auto") return "auto";
  if (s === "pykmip" || s === "virsecret") return s;
  throw new Error(`unknown KMIP server '${s}': use auto, pykmip or virsecret`);
}

/** A run's KMIP keystore: the server, the operator's connection to it, and a note of the keys the run made. */
export interface KmipSession {
  readonly peer: KmipPeer;
  readonly km: KeyManager;
  /** a key this run made on the server: deleted when the run ends, however it ends; returns `keyId` */
  made(keyId: string): string;
}

/**
 * Start the KMIP server of this run, connect to it and run `fn`; afterwards
 * delete the keys the run made (a shared PyKMIP keeps no litter), close the
 * connection, and stop the server when it is ours.
 */
export async function withKmipKeystore<T>(ctx: ScenarioContext, fn: (s: KmipSession) => Promise<T>): Promise<T> {
  const peer = await startKmipPeer(ctx.workdir, ctx.kmip, ctx.log);
  const keys: string[] = [];
  let km: KeyManager | undefined;
  try {
    ctx.log(`keystore: ${peer.name}`);
    km = await openKeystore(peer.config);
    const made = (keyId: string): string => {
      keys.push(keyId);
      return keyId;
    };
    return await fn({ peer, km, made });
  } finally {
    for (const keyId of keys) await km?.deleteKey(peer.context, keyId).catch(() => undefined);
    await km?.close();
    await peer.close();
  }
}
