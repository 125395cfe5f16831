/**
 * `deno task crawl`: catalog the lake. Locally it writes `_catalog/<database>/<table>.json`
 * into the lake; with `--target aws` it defines the Glue table (partition projection, the
 * default) or runs a Glue crawler (`--method crawler`, the seed's way).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { discoverLake } from "../lib/catalog/discover.ts";
import { ensureGlueTable, runGlueCrawler } from "../lib/catalog/glue.ts";
import { writeLocalCatalog } from "../lib/catalog/local.ts";
import { tableInput } from "../lib/catalog/table_input.ts";
import { ConfigError, loadConfig } from "../lib/config.ts";
import { openStore } from "../lib/lake/open_store.ts";
import { consoleLogger } from "../lib/log.ts";

const HELP = `Usage: deno task crawl [--target local|aws] [--method table|crawler] [options]

  --target local   write the catalog (Glue TableInput shape) to <lake>/_catalog/<db>/<table>.json
  --target aws     define the table in Glue for Athena (the lake must be s3://…):
     --method table     CreateDatabase + CreateTable with partition projection (default; no crawler,
                        no MSCK REPAIR: new dt= folders are queryable at once)
     --method crawler   create/update and run a Glue crawler on <lake>/<table>/ (the seed's way)
       --crawler-role <name|arn>   IAM role of the crawler (env GLUE_CRAWLER_ROLE; required)
       --crawler-name <name>       default <database>_<table>
  --lake, --database, --table, --region, --endpoint   (env LAKE_URI, GLUE_DATABASE, GLUE_TABLE,
                                                       AWS_REGION, AWS_ENDPOINT_URL)
Running it again updates what is there.`;

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      target: { type: "string", default: "local" },
      method: { type: "string", default: "table" },
      lake: { type: "string" },
      database: { type: "string" },
      table: { type: "string" },
      region: { type: "string" },
      endpoint: { type: "string" },
      "crawler-role": { type: "string" },
      "crawler-name": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return console.log(HELP);
  if (values.target !== "local" && values.target !== "aws") {
    throw new ConfigError(`--target "${values.target}" is not known: use local or aws.`);
  }
  if (values.method !== "table" && values.method !== "crawler") {
    throw new ConfigError(`--method "${values.method}" is not known: use table or crawler.`);
  }
  const config = loadConfig({ flags: values });
  const store = openStore(config.lake, { region: config.region, endpoint: config.endpoint });
  const location = `${store.uri.replace(/\/+$/, "")}/${config.table}/`;
  const aws = { region: config.region, endpoint: config.endpoint, logger: consoleLogger };

  if (values.target === "aws" && !location.startsWith("s3://")) {
    throw new ConfigError(
      `Glue and Athena read S3 only, but the lake is "${store.uri}": pass --lake s3://bucket/prefix (or set LAKE_URI).`,
    );
  }
  if (values.target === "aws" && values.method === "crawler") {
    const role = values["crawler-role"] ?? Deno.env.get("GLUE_CRAWLER_ROLE");
    if (!role) {
      throw new ConfigError(
        "--method crawler needs the crawler's IAM role: pass --crawler-role <name|arn> or set GLUE_CRAWLER_ROLE.",
      );
    }
    const report = await runGlueCrawler({
      ...aws,
      name: values["crawler-name"] ?? `${config.database}_${config.table}`,
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
  if (values.target === "local") {
    const { key } = await writeLocalCatalog(store, found, { database: config.database });
    console.log(`Wrote the catalog of ${config.database}.${config.table} to ${store.uri}/${key}.`);
    return;
  }
  const result = await ensureGlueTable({
    ...aws,
    database: config.database,
    table: tableInput(found, { name: config.table, location }),
  });
  console.log(
    `Glue table ${config.database}.${config.table} ${
      result.tableCreated ? "created" : "updated"
    } ` +
      `with partition projection from ${found.partitions[0]}; query it with ` +
      `deno task query --target aws "SELECT * FROM ${config.table} LIMIT 10".`,
  );
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (error) {
    consoleLogger.error(error instanceof Error ? error.message : String(error));
    Deno.exit(1);
  }
}
