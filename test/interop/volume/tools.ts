// The real qemu-img, qemu-io and cryptsetup, run on volumes the volume driver
// made, with the passphrase in a 0600 key file of the test's own.
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { promisify } from "node:util";
import { expect } from "chai";

const run = promisify(execFile);

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

export async function tool(cmd: string, args: string[]): Promise<Outcome> {
  try {
    const r = await run(cmd, args, { env: { ...process.env, LC_ALL: "C" }, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === "number" ? x.code : -1, stdout: x.stdout ?? "", stderr: x.stderr ?? "" };
  }
}

export async function keyFile(path: string, value: Uint8Array | string): Promise<string> {
  await writeFile(path, value, { mode: 0o600 });
  return path;
}

/** --object/--image-opts arguments opening `path` with the passphrase in `key`. */
export function imageOpts(format: "raw" | "qcow2", path: string, key: string): string[] {
  const opts = format === "qcow2"
    ? `driver=qcow2,file.filename=${path},encrypt.key-secret=s0`
    : `driver=luks,file.filename=${path},key-secret=s0`;
  return ["--object", `secret,id=s0,file=${key}`, "--image-opts", opts];
}

/** qemu-img info: the image is encrypted, LUKS (raw) or qcow2 with LUKS inside. */
export async function expectEncrypted(format: "raw" | "qcow2", path: string): Promise<void> {
  const r = await tool("qemu-img", ["info", "--output=json", path]);
  expect(r.code, r.stderr).to.equal(0);
  const info = JSON.parse(r.stdout) as { format: string; encrypted: boolean; "format-specific": { type: string; data?: { encrypt?: { format: string } } } };
  expect(info.encrypted).to.equal(true);
  if (format === "raw") expect(info.format).to.equal("luks");
  else {
    expect(info.format).to.equal("qcow2");
    expect(info["format-specific"].data?.encrypt?.format).to.equal("luks");
  }
}

/** qemu-io writes a pattern, a second qemu-io reads the same bytes back. */
export async function expectWriteRead(format: "raw" | "qcow2", path: string, key: string): Promise<void> {
  const o = imageOpts(format, path, key);
  const w = await tool("qemu-io", [...o, "-c", "write -P 0x6b 0 64k", "-c", "write -P 0x3c 1M 4k"]);
  expect(w.code, w.stderr + w.stdout).to.equal(0);
  const r = await tool("qemu-io", [...o, "-c", "read -P 0x6b 0 64k", "-c", "read -P 0x3c 1M 4k"]);
  expect(r.code, r.stderr + r.stdout).to.equal(0);
  expect(r.stdout).to.not.contain("Pattern verification failed");
  expect(r.stdout).to.contain("read 65536/65536 bytes at offset 0");
  // a pattern that is not there fails, so the check above can fail
  const miss = await tool("qemu-io", [...o, "-c", "read -P 0x11 0 4k"]);
  expect(miss.stdout).to.contain("Pattern verification failed");
}

/** Does this passphrase file open the volume, as the real tools see it? */
export async function opens(format: "raw" | "qcow2", path: string, key: string): Promise<Outcome> {
  const o = imageOpts(format, path, key);
  return format === "qcow2" ? tool("qemu-img", ["check", ...o]) : tool("qemu-io", ["-r", ...o, "-c", "read 0 512"]);
}

/** The raw LUKS volume through cryptsetup: header dump, and the passphrase accepted. */
export async function expectCryptsetupAccepts(path: string, key: string, wrongKey: string): Promise<void> {
  const dump = await tool("cryptsetup", ["luksDump", path]);
  expect(dump.code, dump.stderr).to.equal(0);
  expect(dump.stdout).to.match(/Version:\s+1\n/);
  expect(dump.stdout).to.match(/Key Slot 0: ENABLED/);
  const ok = await tool("cryptsetup", ["open", "--test-passphrase", "--key-file", key, path]);
  expect(ok.code, ok.stderr).to.equal(0);
  const bad = await tool("cryptsetup", ["open", "--test-passphrase", "--key-file", wrongKey, path]);
  expect(bad.code).to.equal(2);
  expect(bad.stderr).to.contain("No key available with this passphrase");
}
