import assert from "node:assert/strict";
import { MemoryReadError, MemorySampler, parseProcStatus, readProcessMemory } from "./memory.ts";

Deno.test("parseProcStatus reads VmRSS and VmHWM in bytes", () => {
  const status = "Name:\tdeno\nVmPeak:\t 9999 kB\nVmHWM:\t   2048 kB\nVmRSS:\t   1024 kB\n";
  assert.deepEqual(parseProcStatus(status), { rss: 1024 * 1024, hwm: 2048 * 1024 });
});

Deno.test("parseProcStatus without memory lines says it needs Linux and a user process", () => {
  assert.throws(
    () => parseProcStatus("Name:\tkthreadd\nState:\tS\n"),
    (error: Error) => error instanceof MemoryReadError && /VmRSS/.test(error.message),
  );
});

Deno.test("readProcessMemory reads this process and returns undefined for a gone one", async () => {
  const own = await readProcessMemory(Deno.pid);
  assert.ok(own && own.rss > 1024 * 1024 && own.hwm >= own.rss);
  const child = new Deno.Command("true").spawn();
  await child.status;
  assert.equal(await readProcessMemory(child.pid), undefined);
});

Deno.test("MemorySampler sees a child grow to the memory it touched", async () => {
  const script = "const a = new Uint8Array(64 * 1024 * 1024).fill(1); " +
    "await new Promise((r) => setTimeout(r, 700)); console.log(a[0]);";
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "null",
  }).spawn();
  const sampler = new MemorySampler(child.pid, 50);
  await child.status;
  const summary = await sampler.stop();
  assert.ok(summary.samples >= 2, `took ${summary.samples} samples`);
  assert.ok(summary.peakRss >= 64 * 1024 * 1024, `peak ${summary.peakRss}`);
});
