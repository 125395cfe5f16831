import assert from "node:assert/strict";
import { cpuModel, memTotal, readMachine } from "./machine.ts";

Deno.test("cpuModel takes the first model name and falls back to unknown", () => {
  const info = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\n\n" +
    "processor\t: 1\nmodel name\t: Other\n";
  assert.equal(cpuModel(info), "Intel(R) Xeon(R) Processor");
  assert.equal(cpuModel("processor\t: 0\n"), "unknown CPU");
});

Deno.test("memTotal reads MemTotal in bytes, 0 when missing", () => {
  assert.equal(memTotal("MemTotal:       1024 kB\nMemFree: 1 kB\n"), 1024 * 1024);
  assert.equal(memTotal(""), 0);
});

Deno.test("readMachine describes this machine", async () => {
  const machine = await readMachine();
  assert.ok(machine.cores >= 1);
  assert.ok(machine.memoryBytes > 0);
  assert.equal(machine.deno, Deno.version.deno);
  assert.notEqual(machine.cpu, "");
});
