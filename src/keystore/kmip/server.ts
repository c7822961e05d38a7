// The virsecret KMIP server: KMIP over mutual TLS, objects durable in
// LevelDB and sealed under a key file, owner = client certificate CN.
// Connections are served concurrently (each connection's requests in order);
// a message that cannot be decoded gets a KMIP Invalid Message response and
// the connection keeps serving, unless its frame header is unusable (then
// the stream cannot be resynchronised and the connection is closed).
// The KMIP Credential in a request header is accepted and ignored, as
// PyKMIP does: identity comes only from the verified certificate.

import { readFile } from "node:fs/promises";
import type { Socket } from "node:net";
import tls from "node:tls";
import { TLS12_CIPHERS, TLS13_CIPHERS } from "./client.js";
import { KmipEngine } from "./engine.js";
import { KmipMessageError } from "./fields.js";
import { FrameReader } from "./framing.js";
import * as M from "./messages.js";
import { KmipObjectStore, loadSealKey } from "./store.js";
import { decodeTtlv, DEFAULT_MAX_BYTES, encodeTtlv, TtlvError } from "./ttlv.js";
import { ResultReason } from "./enums.js";
import { KMIP_SERVER_MAX_RESPONSE_BYTES, type KmipServerConfig } from "./server-config.js";

export { KMIP_SERVER_MAX_RESPONSE_BYTES, type KmipServerConfig };

export interface KmipServer {
  readonly port: number;
  close(): Promise<void>;
}

const CLIENT_AUTH_OID = "1.3.6.1.5.5.7.3.2";
/** how long close() lets in-flight requests finish before cutting connections */
const CLOSE_GRACE_MS = 250;
/** requests of one connection waiting their turn before we stop reading from it */
const MAX_PIPELINED = 8;

export async function startKmipServer(cfg: KmipServerConfig): Promise<KmipServer> {
  const store = await KmipObjectStore.open(cfg.dataDir, await loadSealKey(cfg.sealKeyFile));
  const engine = new KmipEngine(store, cfg.maxResponseBytes ?? KMIP_SERVER_MAX_RESPONSE_BYTES);
  const maxBytes = cfg.maxMessageBytes ?? DEFAULT_MAX_BYTES;
  const connections = new Map<tls.TLSSocket, { busy: boolean }>();
  /** every accepted TCP connection, handshake finished or not */
  const sockets = new Set<Socket>();
  let closing = false;

  // Anything failing from here on (unusable TLS files, port in use) must
  // release the store, or its LevelDB lock outlives the failed start.
  let server: tls.Server;
  try {
    server = await listenKmip(cfg, engine, maxBytes, connections, sockets, () => closing);
  } catch (e) {
    await store.close();
    throw e;
  }
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : (cfg.port ?? 5696);

  let closed: Promise<void> | undefined;
  return {
    port,
    close(): Promise<void> {
      closed ??= (async () => {
        closing = true;
        const stopped = new Promise<void>((r) => server.close(() => r()));
        for (const [s, st] of connections) if (!st.busy) s.destroy();
        // busy ones, and those still in their TLS handshake (which would
        // otherwise hold server.close() for the whole handshake timeout)
        const deadline = setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, CLOSE_GRACE_MS);
        await stopped;
        clearTimeout(deadline);
        await store.close();
      })();
      return closed;
    },
  };
}

/** Create the mutual-TLS server, wire the per-connection KMIP loop, and listen. */
async function listenKmip(
  cfg: KmipServerConfig,
  engine: KmipEngine,
  maxBytes: number,
  connections: Map<tls.TLSSocket, { busy: boolean }>,
  sockets: Set<Socket>,
  isClosing: () => boolean,
): Promise<tls.Server> {
  const [cert, key, ca] = await Promise.all([readFile(cfg.cert), readFile(cfg.key), readFile(cfg.ca)]);
  const server = tls.createServer({
    cert,
    key,
    ca,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: cfg.tlsMinVersion ?? "TLSv1.2",
    ciphers: `${TLS13_CIPHERS}:${TLS12_CIPHERS}`,
    handshakeTimeout: 10_000,
  });
  // destroying one of these also closes the TLS socket over it
  server.on("connection", (raw: Socket) => {
    sockets.add(raw);
    raw.once("close", () => sockets.delete(raw));
  });
  // failed handshakes (no certificate, unknown CA, expired) end here; nothing to answer
  server.on("tlsClientError", (_e: Error, socket: Socket) => socket.destroy());

  server.on("secureConnection", (socket: tls.TLSSocket) => {
    if (isClosing()) return void socket.destroy();
    const state = { busy: false };
    connections.set(socket, state);
    socket.setNoDelay(true);
    socket.setTimeout(cfg.idleTimeoutMs ?? 300_000, () => socket.destroy());
    socket.on("close", () => connections.delete(socket));
    socket.on("error", () => socket.destroy());

    const peer = socket.getPeerCertificate();
    const cn = typeof peer?.subject?.CN === "string" ? peer.subject.CN : undefined;
    // like PyKMIP: a client certificate that names extended key usages must include clientAuth
    const eku = (peer as tls.DetailedPeerCertificate & { ext_key_usage?: string[] }).ext_key_usage;
    const authError = !cn ? "The client certificate has no subject common name." : eku && !eku.includes(CLIENT_AUTH_OID) ? "The client certificate is not valid for client authentication." : undefined;

    const reader = new FrameReader(maxBytes);
    let queue: Promise<void> = Promise.resolve();
    /** frames received and not yet answered */
    let pending = 0;
    /** the stream cannot be resynchronised: read nothing more */
    let dead = false;
    // A client that pipelines without reading answers must not make us hold
    // unbounded requests or responses: a response waits for the socket to
    // drain, and reading stops while MAX_PIPELINED frames wait their turn.
    const send = (bytes: Buffer): Promise<void> => {
      if (socket.destroyed || socket.write(bytes)) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = (): void => {
          socket.off("drain", done);
          socket.off("close", done);
          resolve();
        };
        socket.on("drain", done);
        socket.on("close", done);
      });
    };
    const reply = (resp: M.ResponseMessage): Promise<void> => send(encodeTtlv(M.encodeResponseMessage(resp)));

    const serve = async (frame: Buffer): Promise<void> => {
      let item;
      try {
        item = decodeTtlv(frame, { maxBytes });
      } catch (e) {
        return reply(KmipEngine.invalidMessage(undefined, `Error parsing request message: ${(e as TtlvError).message}`));
      }
      const version = M.peekRequestVersion(item);
      if (authError) return reply(KmipEngine.unauthenticated(version, authError));
      let req: M.RequestMessage;
      try {
        req = M.parseRequestMessage(item);
      } catch (e) {
        if (e instanceof KmipMessageError) return reply(KmipEngine.invalidMessage(version, `Error parsing request message: ${e.message}`));
        throw e;
      }
      let resp = await engine.handle(cn!, req);
      let bytes = encodeTtlv(M.encodeResponseMessage(resp));
      const cap = req.header.maximumResponseSize;
      if (cap !== undefined && bytes.length > cap) {
        resp = { header: resp.header, batchItems: resp.batchItems.map((b) => M.failure(b.operation, ResultReason.ResponseTooLarge, "Response size exceeds the requested maximum.", b.uniqueBatchItemId)) };
        bytes = encodeTtlv(M.encodeResponseMessage(resp));
      }
      await send(bytes);
    };

    socket.on("data", (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = reader.push(chunk);
      } catch (e) {
        // an unusable frame header: answer once, then drop the stream
        dead = true;
        void reply(KmipEngine.invalidMessage(undefined, `Error parsing request message: ${(e as Error).message}`));
        socket.end();
        socket.pause();
        return;
      }
      pending += frames.length;
      if (pending >= MAX_PIPELINED) socket.pause();
      for (const f of frames) {
        queue = queue.then(async () => {
          state.busy = true;
          try {
            await serve(f);
          } catch {
            await reply(KmipEngine.invalidMessage(undefined, "Error processing request message."));
          } finally {
            state.busy = false;
            pending--;
            if (isClosing()) socket.destroy();
            else if (!dead && pending < MAX_PIPELINED && socket.isPaused()) socket.resume();
          }
        });
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(cfg.port ?? 5696, cfg.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      // After start-up an 'error' (say EMFILE on accept) must not end the
      // process through an unhandled event: report it and keep serving.
      server.on("error", (e: Error) => process.emitWarning(`KMIP server: ${e.message}`, "VirsecretKmipServerWarning"));
      resolve();
    });
  });
  return server;
}
