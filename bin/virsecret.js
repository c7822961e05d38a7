#!/usr/bin/env node
// virsecret launcher: runs the TypeScript sources through tsx, so `npx virsecret`
// works straight after `npm ci`, with no build step.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
const { processIO } = await import("../src/cli/io.ts");

// SIGINT ends `secret-event` cleanly ("event loop interrupted"), as in virsh.
const interrupt = new AbortController();
process.once("SIGINT", () => interrupt.abort());
const io = processIO(interrupt.signal);
const code = await main(process.argv.slice(2), io);
// 128 + SIGPIPE: what a shell reports for virsh whose reader went away
process.exitCode = io.stdoutClosed ? 141 : code;
