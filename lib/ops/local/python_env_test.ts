import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MissingToolError } from "./java.ts";
import { ensurePythonEnv, PythonEnvError, venvBin } from "./python_env.ts";

Deno.test("the environment is created once and reused while the requirements stay the same", async () => {
  const dir = await Deno.makeTempDir({ prefix: "python_env_test_" });
  try {
    const requirementsFile = join(dir, "requirements.txt");
    await Deno.writeTextFile(requirementsFile, "# nothing to install\n");
    const venvDir = join(dir, "venv");
    const first = await ensurePythonEnv({ venvDir, requirementsFile });
    assert.equal(first.installed, true);
    assert.equal(first.python, venvBin("python", venvDir));
    const run = await new Deno.Command(first.python, {
      args: ["-c", "import sys; print(sys.prefix)"],
      stdout: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(run.stdout).trim(), venvDir);

    assert.equal((await ensurePythonEnv({ venvDir, requirementsFile })).installed, false);
    await Deno.writeTextFile(requirementsFile, "# changed: still nothing\n");
    assert.equal((await ensurePythonEnv({ venvDir, requirementsFile })).installed, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a requirement pip cannot install is reported with pip's output and no stamp", async () => {
  const dir = await Deno.makeTempDir({ prefix: "python_env_test_" });
  try {
    const requirementsFile = join(dir, "requirements.txt");
    await Deno.writeTextFile(requirementsFile, "./no-such-local-package\n");
    const venvDir = join(dir, "venv");
    await assert.rejects(
      ensurePythonEnv({ venvDir, requirementsFile }),
      (error: unknown) =>
        error instanceof PythonEnvError && /pip could not install/.test(error.message) &&
        /no-such-local-package/.test(error.message),
    );
    await assert.rejects(Deno.stat(join(venvDir, ".requirements.sha256")), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("missing python3 or requirements file says what to do", async () => {
  await assert.rejects(
    ensurePythonEnv({
      python: "no-such-python3",
      venvDir: "/nonexistent/venv",
      requirementsFile: fileURLToPath(
        new URL("../../../scripts/requirements.txt", import.meta.url),
      ),
    }),
    (error: unknown) => error instanceof MissingToolError && /python3-venv/.test(error.message),
  );
  await assert.rejects(
    ensurePythonEnv({ requirementsFile: "/nonexistent/requirements.txt" }),
    /Cannot read \/nonexistent\/requirements\.txt/,
  );
});
