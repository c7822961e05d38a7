// The KMIP server's settings and their defaults: plain data, so the config
// XML parser (xml/kmip-server.ts) can use them without loading the server.

export interface KmipServerConfig {
  /** address to bind; default 127.0.0.1 */
  readonly host?: string;
  /** TCP port; 0 picks a free one (see the returned `port`); default 5696 */
  readonly port?: number;
  /** PEM file paths: server certificate and key, and the CA that signs client certificates */
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  /** LevelDB directory for the objects (created) */
  readonly dataDir: string;
  /** 32-byte seal key file (raw or hex); created with mode 0600 if absent */
  readonly sealKeyFile: string;
  /** lowest TLS version accepted; default TLSv1.2 (PyKMIP's client speaks 1.2) */
  readonly tlsMinVersion?: "TLSv1.2" | "TLSv1.3";
  /** largest request accepted; default 1 MiB */
  readonly maxMessageBytes?: number;
  /** largest response built: a batch whose answers outgrow it stops with Response Too Large; default 8 MiB */
  readonly maxResponseBytes?: number;
  /** close a connection idle this long; default 300 s */
  readonly idleTimeoutMs?: number;
}

/**
 * Default response cap. Above the request cap, as a Get answer is about as
 * large as the Register that stored it; but bounded, or a small batch of
 * Gets of one large object would make the server build gigabytes.
 */
export const KMIP_SERVER_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;
