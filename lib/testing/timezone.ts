/**
 * Runs code as another host would: in a child `deno eval` whose `TZ` is set. Deno reads `TZ` at
 * start, so only a new process honestly plays a host in another time zone.
 *
 * @module
 */

import assert from "node:assert/strict";

/**
 * Evaluates `code` (which must `console.log` one JSON value) under `TZ=tz` and returns that value
 * with `offsetMinutes`, the child's own UTC offset on 2021-06-30 (so a test can prove the zone
 * took effect).
 *
 * @example
 * ```ts ignore
 * const { value, offsetMinutes } = await evalUnderTz("Asia/Kolkata", "console.log(JSON.stringify(1))");
 * // offsetMinutes === -330
 * ```
 */
export async function evalUnderTz<T>(
  tz: string,
  code: string,
): Promise<{ offsetMinutes: number; value: T }> {
  const wrapped = `
    const __value = await (async () => { ${code} })();
    console.log(JSON.stringify({
      offsetMinutes: new Date(2021, 5, 30).getTimezoneOffset(),
      value: __value,
    }));`;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", wrapped],
    env: { TZ: tz, NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, `deno eval under TZ=${tz} failed:\n${stderr}`);
  return JSON.parse(new TextDecoder().decode(output.stdout));
}
