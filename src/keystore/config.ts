// Keystore configuration: what a <keystore> XML document (schemas/keystore.rng)
// parses to, and what openKeystore() dispatches on. Pure data; the parser is
// src/xml/keystore.ts, the backends read only the fields of their own type.
//
// Paths are absolute file paths; files (TLS material, passwords, tokens) are
// named here, never inlined, so a config file can be shown without leaking.

/** `<keystore type='local'>`: keys sealed in a virsecret LevelDB root. */
export interface LocalKeystoreConfig {
  readonly type: "local";
  /** `<root>`: a root of its own; absent = the root of the caller's open store */
  readonly root?: string;
  /** `<masterkey file='…'/>`: the 32-byte master key file for `root` */
  readonly masterKeyFile?: string;
}

/** TLS files for a client connection. */
export interface KeystoreTLSConfig {
  /** `<tls version='…'>`: pin the protocol (PyKMIP 0.10 speaks exactly TLS 1.2) */
  readonly version?: "1.2" | "1.3";
  /** `<ca>`: CA bundle that signs the server certificate */
  readonly ca?: string;
  /** `<cert>` and `<key>`: client certificate and its private key (mutual TLS) */
  readonly cert?: string;
  readonly key?: string;
}

/** `<keystore type='kmip'>`: a KMIP 1.x/2.0 server over mutual TLS. */
export interface KmipKeystoreConfig {
  readonly type: "kmip";
  readonly host: string;
  /** default 5696, the IANA KMIP port */
  readonly port: number;
  /** KMIP always runs over mutual TLS, so ca, cert and key are all present */
  readonly tls: KeystoreTLSConfig & { readonly ca: string; readonly cert: string; readonly key: string };
  /** `<credential username='…' password-file='…'/>`: the KMIP Credential (identity is the client cert CN) */
  readonly credential?: { readonly username: string; readonly passwordFile?: string };
  /** `<pool size='…'/>`: TLS connections kept open (default 4) */
  readonly poolSize: number;
  /** `<timeout ms='…'/>`: per request (default 30000) */
  readonly timeoutMs: number;
}

/** How the Barbican backend authenticates its requests. */
export type BarbicanAuthConfig =
  /** Barbican without Keystone: the caller's project/user/roles go in X-Project-Id / X-User-Id / X-Roles */
  | { readonly type: "noauth" }
  /** X-Auth-Token: the caller's context token, else the token in `tokenFile` */
  | { readonly type: "token"; readonly tokenFile?: string }
  /** a Keystone v3 password login; the token is cached until it expires */
  | {
      readonly type: "keystone";
      readonly url: string;
      readonly username: string;
      readonly passwordFile: string;
      readonly userDomain: string;
      readonly project: string;
      readonly projectDomain: string;
    };

/** `<keystore type='barbican'>`: the OpenStack Barbican REST API v1. */
export interface BarbicanKeystoreConfig {
  readonly type: "barbican";
  /** `<endpoint>`: the versioned API root, e.g. http://127.0.0.1:9311/v1 */
  readonly endpoint: string;
  readonly auth: BarbicanAuthConfig;
  /** `<tls>` for https endpoints (all files optional) */
  readonly tls?: KeystoreTLSConfig;
  /** `<timeout ms='…'/>`: per request (default 30000) */
  readonly timeoutMs: number;
}

export type KeystoreConfig = LocalKeystoreConfig | KmipKeystoreConfig | BarbicanKeystoreConfig;
export type KeystoreType = KeystoreConfig["type"];

export const KMIP_DEFAULT_PORT = 5696;
export const KEYSTORE_DEFAULT_POOL_SIZE = 4;
export const KEYSTORE_DEFAULT_TIMEOUT_MS = 30_000;
/** Upper bounds the parser enforces, so a typo cannot ask for 10^9 sockets or a day-long wait. */
export const KEYSTORE_MAX_POOL_SIZE = 64;
export const KEYSTORE_MAX_TIMEOUT_MS = 3_600_000;
