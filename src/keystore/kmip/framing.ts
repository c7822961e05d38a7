// Stream framing for KMIP over TLS: a message is its 8-byte TTLV header plus
// the length that header states. Socket reads split and merge messages
// arbitrarily, so collect bytes until a whole message is present. The header
// is checked (Structure type, size cap) before any body is buffered, so a
// peer cannot make us hold more than one capped message.

import { DEFAULT_MAX_BYTES, frameLength } from "./ttlv.js";

export class FrameReader {
  private chunks: Buffer[] = [];
  private have = 0;
  private need = -1;
  constructor(private readonly maxBytes: number = DEFAULT_MAX_BYTES) {}

  /** bytes received but not yet returned as a frame */
  get buffered(): number {
    return this.have;
  }

  /** Add received bytes; returns every message now complete. Throws TtlvError on a bad header. */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.have += chunk.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.need < 0) {
        if (this.have < 8) break;
        this.need = frameLength(this.peek(8), this.maxBytes);
      }
      if (this.have < this.need) break;
      out.push(this.take(this.need));
      this.need = -1;
    }
    return out;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0].length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0].subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const frame = Buffer.from(all.subarray(0, n));
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.have = rest.length;
    return frame;
  }
}
