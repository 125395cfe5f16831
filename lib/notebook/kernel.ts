/**
 * The Deno Jupyter kernel: installs it for the running Deno and checks that Jupyter starts it.
 *
 * @module
 */

/** Raised when the Deno kernel cannot be installed or is not the one this Deno provides. */
export class KernelInstallError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "KernelInstallError";
  }
}

/**
 * Installs the Deno Jupyter kernel (`deno jupyter --install --force`) for the running Deno, then
 * checks with the environment's `jupyter kernelspec list` that the `deno` kernel starts this
 * very Deno binary, symlinks resolved (so notebooks run on the project's pinned version).
 *
 * @param python The Python of the environment that has Jupyter (e.g. `.cache/venv/bin/python`).
 * @returns the kernel spec folder.
 * @throws {KernelInstallError} when the install fails or another Deno would start.
 */
export async function ensureDenoKernel(python: string): Promise<string> {
  const install = await new Deno.Command(Deno.execPath(), {
    args: ["jupyter", "--install", "--force"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const said = new TextDecoder().decode(install.stdout) + new TextDecoder().decode(install.stderr);
  if (!install.success) {
    throw new KernelInstallError(`"deno jupyter --install" failed: ${said.trim()}`);
  }
  const list = await new Deno.Command(python, {
    args: ["-m", "jupyter", "kernelspec", "list", "--json"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!list.success) {
    throw new KernelInstallError(
      `"${python} -m jupyter kernelspec list" failed (is Jupyter installed? run deno task up --aws ` +
        `to build the Python environment): ${new TextDecoder().decode(list.stderr).trim()}`,
    );
  }
  const specs = JSON.parse(new TextDecoder().decode(list.stdout)).kernelspecs ?? {};
  const deno = specs.deno as { resource_dir: string; spec: { argv: string[] } } | undefined;
  if (!deno) {
    throw new KernelInstallError(
      'Jupyter does not list a "deno" kernel after "deno jupyter --install"; check ' +
        "JUPYTER_PATH and JUPYTER_DATA_DIR.",
    );
  }
  const same = (path: string) => {
    try {
      return Deno.realPathSync(path) === Deno.realPathSync(Deno.execPath());
    } catch {
      return false;
    }
  };
  if (!same(deno.spec.argv[0])) {
    throw new KernelInstallError(
      `Jupyter's "deno" kernel (${deno.resource_dir}) starts ${deno.spec.argv[0]}, not ` +
        `${Deno.execPath()}: a kernel spec earlier on JUPYTER_PATH wins; remove it.`,
    );
  }
  return deno.resource_dir;
}
