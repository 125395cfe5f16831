import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { isAlive } from "./daemon.ts";
import { awsEmulatorEnv, MotoError, MotoServer } from "./moto.ts";
import { ensurePythonEnv } from "./python_env.ts";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const VENV = `${ROOT}.cache/venv`;

Deno.test("moto starts once, answers S3, forgets state on reset and stops", async (t) => {
  await ensurePythonEnv({ venvDir: VENV, requirementsFile: `${ROOT}scripts/requirements.txt` });
  const stateDir = await Deno.makeTempDir({ prefix: "moto_test_" });
  const moto = new MotoServer({ stateDir, venvDir: VENV, port: 15000 });
  try {
    await t.step("start() launches a server that answers HTTP", async () => {
      const started = await moto.start();
      assert.equal(started.alreadyRunning, false);
      assert.equal(started.ours, true);
      assert.equal(started.endpoint, "http://127.0.0.1:15000");
      assert.ok(started.pid !== undefined && await isAlive(started.pid, "moto_server"));
    });

    await t.step("start() again reports already running", async () => {
      const again = await moto.start();
      assert.equal(again.alreadyRunning, true);
      assert.equal(again.ours, true);
    });

    await t.step("reset() forgets a bucket", async () => {
      const created = await fetch(`${moto.endpoint}/moto-test-bucket`, { method: "PUT" });
      await created.body?.cancel();
      assert.ok(created.ok, `PUT bucket answered ${created.status}`);
      const list = async () => await (await fetch(`${moto.endpoint}/`)).text();
      assert.match(await list(), /moto-test-bucket/);
      await moto.reset();
      assert.doesNotMatch(await list(), /moto-test-bucket/);
    });

    await t.step("stop() stops it; a second stop() finds nothing", async () => {
      const pid = (await moto.status()).pid!;
      const stopped = await moto.stop();
      assert.equal(stopped.pid, pid);
      assert.equal(await isAlive(pid), false);
      assert.equal((await moto.status()).running, false);
      assert.deepEqual(await moto.stop(), { outcome: "not running" });
      await assert.rejects(moto.reset(), /Cannot reset moto at http:\/\/127\.0\.0\.1:15000/);
    });
  } finally {
    await moto.stop();
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("moto on a taken port is reported with the end of its log", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const stateDir = await Deno.makeTempDir({ prefix: "moto_test_" });
  try {
    const moto = new MotoServer({ stateDir, venvDir: VENV, port });
    await assert.rejects(
      moto.start(),
      (error: unknown) =>
        error instanceof MotoError && /moto exited while starting/.test(error.message) &&
        /in use/i.test(error.message),
    );
  } finally {
    listener.close();
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("moto without the Python environment says how to create it", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "moto_test_" });
  try {
    const moto = new MotoServer({ stateDir, venvDir: `${stateDir}/no-venv`, port: 15001 });
    await assert.rejects(
      moto.start(),
      /moto_server is missing: create the Python environment first/,
    );
    assert.throws(() => new MotoServer({ port: 0 }), MotoError);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("the emulator env points the AWS SDK at the endpoint with test credentials", () => {
  assert.deepEqual(awsEmulatorEnv("http://127.0.0.1:5000"), {
    AWS_ENDPOINT_URL: "http://127.0.0.1:5000",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_REGION: "us-east-1",
  });
});
