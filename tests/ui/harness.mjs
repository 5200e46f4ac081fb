// What the browser tests share: a `tidewatch demo` started on 127.0.0.1 at a port picked at run
// time (stopped by its PID), headless Chromium (Debian's, or $CHROMIUM), and the checks' tally.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

/// Starts `tidewatch demo` with `args`; resolves to { base, output(), stop() } once it listens
/// (`stop()` resolves once the server has exited and its directory is gone).
export async function startDemo(bin, args, seconds = 90) {
  const dir = mkdtempSync(join(tmpdir(), "tidewatch-ui-"));
  const server = spawn(bin, ["demo", "--addr", "127.0.0.1:0", ...args, "--demo-dir", join(dir, "demo")], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let buf = "";
  const exited = new Promise((resolve) => server.once("exit", resolve));
  // Stops the server by its PID and waits until it has exited (it commits its index on the way
  // out: removing the directory before that races with the files it writes), then cleans up.
  const stop = async () => {
    if (server.exitCode === null && server.signalCode === null) {
      server.kill("SIGTERM");
      const killer = setTimeout(() => server.kill("SIGKILL"), 15000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  };
  try {
    const base = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the demo did not start in ${seconds} s`)), seconds * 1000);
      server.stdout.on("data", (d) => {
        buf += d;
        const m = buf.match(/listening on (http:\/\/\S+)/);
        if (m) { clearTimeout(timer); resolve(m[1]); }
      });
      server.on("exit", (code) => reject(new Error("the demo exited with " + code)));
    });
    return { base, output: () => buf, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/// Headless Chromium.
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/// A tally of checks: `check(cond, what)` prints ok/FAIL; `finish(name)` exits 1 on a failure.
export function checks() {
  let failures = 0;
  return {
    check(cond, what) {
      console.log((cond ? "ok   " : "FAIL ") + what);
      if (!cond) failures++;
    },
    fail(e) {
      console.log("FAIL " + (e.stack || e));
      failures++;
    },
    finish(name, done) {
      if (failures) {
        console.log(`${failures} ${name} check(s) failed`);
        process.exit(1);
      }
      console.log(done);
    },
  };
}
