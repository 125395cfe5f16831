/**
 * `deno task crawl`: catalog the lake. Locally it writes `_catalog/<database>/<table>.json`
 * into the lake; with `--target aws` it defines the Glue table (partition projection, the
 * default) or runs a Glue crawler (`--method crawler`, the seed's way).
 *
 * @module
 */

import { choiceFlag, type ParsedFlags, runCommand, stringFlag } from "../lib/cli.ts";
import { discoverLake } from "../lib/catalog/discover.ts";
import { runGlueCrawler } from "../lib/catalog/glue.ts";
import { writeLocalCatalog } from "../lib/catalog/local.ts";
import { ConfigError, configFlags, loadConfig } from "../lib/config.ts";
import { openStore } from "../lib/lake/open_store.ts";
import { defineLakeTable } from "../lib/lake/compact_glue.ts";
import { DT_GRANULARITIES, inferDtGranularity } from "../lib/lake/layout.ts";
import { consoleLogger } from "../lib/log.ts";
import { catalogCurated } from "../lib/transform/catalog.ts";

const COMMAND = {
  usage: "deno task crawl [--target local|aws] [--method table|crawler] [flags]",
  about:
    `  --target local   write the catalog (Glue TableInput shape) to <lake>/_catalog/<db>/<table>.json
  --target aws     define the table in Glue for Athena (the lake must be s3://…):
     --method table     CreateDatabase + CreateTable with partition projection (default; no crawler,
                        no MSCK REPAIR: new dt= folders are queryable at once)
     --method crawler   create/update and run a Glue crawler on <lake>/<table>/ (the seed's way)
Running it again updates what is there.`,
  flags: {
    target: { type: "string", description: "local or aws", default: "local" },
    method: {
      type: "string",
      description: "With --target aws: table or crawler",
      default: "table",
    },
    "crawler-role": {
      type: "string",
      description: "IAM role (name or ARN) of the crawler; required with --method crawler",
      default: "none (GLUE_CRAWLER_ROLE)",
    },
    "crawler-name": {
      type: "string",
      description: "Name of the crawler",
      default: "<database>_<table>",
    },
    "dt-granularity": {
      type: "string",
      description:
        "Width of the lake's dt partitions (the consumer's --dt-granularity): day, month or year; " +
        "partition projection steps by it",
      default: "from the dt values",
    },
    ...configFlags("lake", "database", "table", "region", "endpoint"),
  },
} as const;

async function crawl({ values }: ParsedFlags): Promise<void> {
  const target = choiceFlag("target", values.target, ["local", "aws"] as const) ?? "local";
  const method = choiceFlag("method", values.method, ["table", "crawler"] as const) ?? "table";
  const config = loadConfig({ flags: values });
  const store = openStore(config.lake, { region: config.region, endpoint: config.endpoint });
  const location = `${store.uri.replace(/\/+$/, "")}/${config.table}/`;
  const aws = { region: config.region, endpoint: config.endpoint, logger: consoleLogger };

  if (target === "aws" && !location.startsWith("s3://")) {
    throw new ConfigError(
      `Glue and Athena read S3 only, but the lake is "${store.uri}": pass --lake s3://bucket/prefix (or set LAKE_URI).`,
    );
  }
  if (target === "aws" && method === "crawler") {
    const role = stringFlag("crawler-role", values["crawler-role"]) ??
      Deno.env.get("GLUE_CRAWLER_ROLE");
    if (!role) {
      throw new ConfigError(
        "--method crawler needs the crawler's IAM role: pass --crawler-role <name|arn> or set GLUE_CRAWLER_ROLE.",
      );
    }
    const report = await runGlueCrawler({
      ...aws,
      name: stringFlag("crawler-name", values["crawler-name"]) ??
        `${config.database}_${config.table}`,
      role,
      database: config.database,
      path: location,
    });
    console.log(
      `Crawl ${report.status}. Tables in ${config.database}: ${report.tables.join(", ")}`,
    );
    return;
  }

  const found = await discoverLake(store, { table: config.table, logger: consoleLogger });
  const columns = found.columns.map((c) => `${c.name} ${c.type}`).join(", ");
  console.log(
    `Found ${found.objects} ${found.format} objects (${(found.bytes / 1e6).toFixed(2)} MB) in ` +
      `${found.partitions.length} partitions ${found.partitions[0]} … ${
        found.partitions.at(-1)
      }; ` +
      `columns: ${columns}, partition dt string.`,
  );
  if (target === "local") {
    const { key } = await writeLocalCatalog(store, found, { database: config.database });
    console.log(`Wrote the catalog of ${config.database}.${config.table} to ${store.uri}/${key}.`);
    return;
  }
  const given = choiceFlag("dt-granularity", values["dt-granularity"], DT_GRANULARITIES);
  const granularity = given ?? inferDtGranularity(found.partitions);
  // A compacted lake (deno task compact) keeps partitions in generation folders, which
  // projection cannot follow: defineLakeTable registers each partition instead.
  const result = await defineLakeTable({
    ...aws,
    store,
    discovery: found,
    database: config.database,
    table: config.table,
    dtGranularity: granularity,
  });
  if (result.registered) {
    console.log(
      `Glue table ${config.database}.${config.table} ${
        result.tableCreated ? "created" : "updated"
      } with ${found.partitions.length} registered partitions (the lake is compacted: ` +
        "`deno task compact --glue` keeps them current); query it with " +
        `deno task query --target aws "SELECT * FROM ${config.table} LIMIT 10".`,
    );
    return;
  }
  console.log(
    `Glue table ${config.database}.${config.table} ${
      result.tableCreated ? "created" : "updated"
    } ` +
      `with partition projection from ${found.partitions[0]}, one dt per ${granularity} (${
        given ? "--dt-granularity" : "from the dt values; pass --dt-granularity to set it"
      }); query it with ` +
      `deno task query --target aws "SELECT * FROM ${config.table} LIMIT 10".`,
  );
}

/** Catalogs the curated tables of `deno task transform` (if any) beside the table just cataloged. */
async function crawlCurated({ values }: ParsedFlags): Promise<void> {
  const target = choiceFlag("target", values.target, ["local", "aws"] as const) ?? "local";
  if (values.method === "crawler") return;
  const config = loadConfig({ flags: values });
  const store = openStore(config.lake, { region: config.region, endpoint: config.endpoint });
  const entries = await catalogCurated({
    store,
    target,
    database: config.database,
    region: config.region,
    endpoint: config.endpoint,
    logger: consoleLogger,
  });
  for (const { discovery, where } of entries) {
    console.log(
      `Curated table ${config.database}.${discovery.table}: ${discovery.objects} objects ` +
        `(${
          (discovery.bytes / 1e6).toFixed(2)
        } MB), ${discovery.partitions.length} partitions → ${where}.`,
    );
  }
}

if (import.meta.main) {
  runCommand(COMMAND, async (flags) => {
    await crawl(flags);
    await crawlCurated(flags);
  });
}
