// Throwaway PKI for KMIP tests, made with the openssl CLI: a CA, server and
// client certificates (EC P-256: fast to make), expired ones, and certificates
// from a second CA. Everything lives in a temp directory the caller removes.

import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Issued {
  readonly cert: string;
  readonly key: string;
}

export interface IssueOptions {
  /** default clientAuth */
  readonly eku?: "clientAuth" | "serverAuth" | "none";
  /** subjectAltName value; default DNS:localhost,IP:127.0.0.1 */
  readonly san?: string;
  /** a certificate whose validity ended in 2021 */
  readonly expired?: boolean;
  /** RSA 2048 instead of EC P-256 */
  readonly rsa?: boolean;
}

function sh(script: string, cwd: string): void {
  execFileSync("/bin/sh", ["-c", script], { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

export class TestCa {
  private serial = 0;
  constructor(
    readonly dir: string,
    readonly cert: string,
    readonly key: string,
  ) {}

  /** A new CA in `dir` (created). */
  static create(dir: string, name = "virsecret test CA"): TestCa {
    mkdirSync(dir, { recursive: true });
    sh(
      `openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -sha256 ` +
        `-keyout ca.key -out ca.crt -subj "/CN=${name}" ` +
        `-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"`,
      dir,
    );
    return new TestCa(dir, join(dir, "ca.crt"), join(dir, "ca.key"));
  }

  /** Issue a certificate for `cn`; files are <dir>/<cn>-<n>.{crt,key}. */
  issue(cn: string, opts: IssueOptions = {}): Issued {
    const base = `${cn.replace(/[^A-Za-z0-9_.-]/g, "_")}-${++this.serial}-${process.pid}`;
    const ext = join(this.dir, `${base}.ext`);
    const eku = opts.eku ?? "clientAuth";
    writeFileSync(
      ext,
      `subjectAltName=${opts.san ?? "DNS:localhost,IP:127.0.0.1"}\n` +
        (eku === "none" ? "" : `extendedKeyUsage=${eku}\n`) +
        `keyUsage=critical,digitalSignature,keyEncipherment\nbasicConstraints=CA:FALSE\n`,
    );
    const newkey = opts.rsa ? "-newkey rsa:2048" : "-newkey ec -pkeyopt ec_paramgen_curve:P-256";
    sh(`openssl req -new ${newkey} -nodes -keyout "${base}.key" -out "${base}.csr" -subj "/CN=${cn}"`, this.dir);
    if (opts.expired) {
      // `openssl ca` is the 3.0 CLI's way to set explicit past validity dates
      const db = join(this.dir, `${base}.db`);
      mkdirSync(db, { recursive: true });
      writeFileSync(join(db, "index.txt"), "");
      writeFileSync(join(db, "serial"), "1000\n");
      writeFileSync(
        join(db, "ca.cnf"),
        `[ca]\ndefault_ca=d\n[d]\ndatabase=${db}/index.txt\nserial=${db}/serial\nnew_certs_dir=${db}\n` +
          `certificate=${this.cert}\nprivate_key=${this.key}\ndefault_md=sha256\npolicy=p\ncopy_extensions=none\n[p]\ncommonName=supplied\n`,
      );
      sh(
        `openssl ca -batch -config "${db}/ca.cnf" -in "${base}.csr" -out "${base}.crt" -notext ` +
          `-startdate 20200101000000Z -enddate 20210101000000Z -extfile "${ext}"`,
        this.dir,
      );
    } else {
      sh(
        `openssl x509 -req -in "${base}.csr" -CA "${this.cert}" -CAkey "${this.key}" -set_serial 0x${randomBytes(12).toString("hex")} ` +
          `-days 30 -sha256 -extfile "${ext}" -out "${base}.crt"`,
        this.dir,
      );
    }
    return { cert: join(this.dir, `${base}.crt`), key: join(this.dir, `${base}.key`) };
  }
}
