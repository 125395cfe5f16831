/**
 * The project's kafkajs: `npm:kafkajs@2.2.4` with the produce-path replacements of
 * {@linkcode ./kafkajs_override.ts} put into its module cache first. `deno.json` maps the bare
 * specifier `kafkajs` here, so every `import … from "kafkajs"` of the project (and of its
 * workers) loads kafkajs this way; import kafkajs by that name, never as `npm:kafkajs`.
 *
 * @module
 */

import "./kafkajs_override.ts";
export * from "npm:kafkajs@2.2.4";
