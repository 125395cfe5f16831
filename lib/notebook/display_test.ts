import assert from "node:assert/strict";
import type { ProgressSink } from "../progress.ts";
import {
  bundleOf,
  DISPLAY_SETTLE_MS,
  type DisplayBundle,
  jupyter,
  type JupyterDisplay,
  liveDisplay,
  show,
} from "./display.ts";

class RecordingJupyter implements JupyterDisplay {
  calls: { bundle: DisplayBundle; options: { display_id?: string; update?: boolean } }[] = [];
  fail = false;
  display(bundle: DisplayBundle, options: { raw: true; display_id?: string; update?: boolean }) {
    if (this.fail) return Promise.reject(new Error("kernel gone"));
    this.calls.push({ bundle, options });
    return Promise.resolve();
  }
}

Deno.test("a live display creates one output, then updates that same output in place", async () => {
  const api = new RecordingJupyter();
  const view = liveDisplay({ jupyter: api, intervalMs: 0, displayId: "d1" });
  view.update("one");
  view.update({ "text/plain": "two", "text/html": "<b>two</b>" });
  await view.done("three");
  assert.deepEqual(api.calls.map((c) => c.options), [
    { raw: true, display_id: "d1", update: false },
    { raw: true, display_id: "d1", update: true },
    { raw: true, display_id: "d1", update: true },
  ]);
  assert.deepEqual(api.calls.map((c) => c.bundle["text/plain"]), ["one", "two", "three"]);
  assert.equal(api.calls[1].bundle["text/html"], "<b>two</b>");
});

Deno.test("a live display drops updates that come too fast but always shows the final state", async () => {
  const api = new RecordingJupyter();
  const view = liveDisplay({ jupyter: api, intervalMs: 60_000 });
  for (let i = 0; i < 100; i++) view.update(`n=${i}`);
  await view.done("finished");
  assert.deepEqual(api.calls.map((c) => c.bundle["text/plain"]), ["n=0", "finished"]);
  assert.notEqual(api.calls[0].options.display_id, undefined);
});

Deno.test("a live display reports a failed display when it is done", async () => {
  const api = new RecordingJupyter();
  api.fail = true;
  const view = liveDisplay({ jupyter: api, intervalMs: 0 });
  view.update("lost");
  await assert.rejects(view.done("end"), /kernel gone/);
});

Deno.test("outside Jupyter the live display writes the plain text to the terminal sink", async () => {
  assert.equal(jupyter(), undefined, "deno test does not run in a Jupyter kernel");
  const lines: string[] = [];
  const fallback: ProgressSink = {
    update: (text) => lines.push(`update ${text}`),
    done: (text) => void lines.push(`done ${text}`),
  };
  const view = liveDisplay({ fallback });
  view.update({ "text/plain": "half", "text/html": "<i>half</i>" });
  await view.done("all");
  assert.deepEqual(lines, ["update half", "done all"]);
});

Deno.test("show displays any value as one output and pauses so it arrives before the cell ends", async () => {
  const api = new RecordingJupyter();
  const started = performance.now();
  await show("connected", { jupyter: api });
  assert.ok(performance.now() - started >= DISPLAY_SETTLE_MS - 5, "it waits after displaying");
  await show({ "text/html": "<b>x</b>", "text/plain": "x" }, { jupyter: api, settleMs: 0 });
  assert.deepEqual(api.calls.map((c) => c.bundle), [
    { "text/plain": "connected" },
    { "text/html": "<b>x</b>", "text/plain": "x" },
  ]);
  assert.deepEqual(api.calls.map((c) => c.options), [{ raw: true }, { raw: true }]);
});

Deno.test("bundleOf: text, MIME bundles, objects that render themselves, anything else inspected", () => {
  assert.deepEqual(bundleOf("hi"), { "text/plain": "hi" });
  const chart = {
    spec: 1,
    [Symbol.for("Jupyter.display")]: () => ({ "text/plain": "a chart" }),
  };
  assert.deepEqual(bundleOf(chart), { "text/plain": "a chart" });
  assert.deepEqual(bundleOf({ "application/json": { a: 1 } }), { "application/json": { a: 1 } });
  assert.equal(
    bundleOf({ partition: 0, offset: "12" })["text/plain"],
    '{ partition: 0, offset: "12" }',
  );
  assert.equal(bundleOf(42)["text/plain"], "42");
});
