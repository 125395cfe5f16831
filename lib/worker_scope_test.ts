import assert from "node:assert/strict";
import { workerScope } from "./worker_scope.ts";

Deno.test("workerScope is undefined on the main thread (a worker module then serves nothing)", () => {
  assert.equal(workerScope(), undefined);
});

Deno.test("workerScope is the worker's global scope inside a Deno Worker", async () => {
  const source = `import { workerScope } from "${
    new URL("./worker_scope.ts", import.meta.url).href
  }";
    self.postMessage(workerScope() === self);`;
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  const worker = new Worker(url, { type: "module" });
  try {
    const inside = await new Promise((resolve, reject) => {
      worker.onmessage = (event) => resolve(event.data);
      worker.onerror = (event) => reject(new Error(event.message));
    });
    assert.equal(inside, true);
  } finally {
    worker.terminate();
    URL.revokeObjectURL(url);
  }
});
