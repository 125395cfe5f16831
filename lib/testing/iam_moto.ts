/**
 * A private moto server that enforces IAM, for proving the policies of `deno task iam`.
 *
 * moto checks every request against the caller's IAM policies once its first
 * `INITIAL_NO_AUTH_ACTION_COUNT` requests are spent. {@linkcode IamMoto.start} spends them on
 * creating an administrator (user, inline `*` policy, access key); everything after that — the
 * test's set-up with the administrator's keys, and the code under test with a user holding
 * exactly one policy — is authorized like AWS would, within moto's limits:
 *
 * - S3: actions **and** resource ARNs (`bucket`, `bucket/key`) are enforced; conditions such as
 *   `s3:prefix` are ignored.
 * - Other services (EC2, Glue, Athena, SSM, IAM): actions are enforced, but every request is
 *   checked against the resource `*`, so a statement scoped to ARNs never matches.
 *   {@linkcode enforceableByMoto} widens those statements to `*` so the action list can be proven.
 * - Denied JSON-protocol calls (Glue, Athena, SSM) come back as XML, which the SDK reports as a
 *   deserialization error; {@linkcode deniedAction} finds the action either way.
 *
 * @module
 */

import {
  AddRoleToInstanceProfileCommand,
  CreateAccessKeyCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  CreateUserCommand,
  IAMClient,
  type IAMClientConfig,
  PutUserPolicyCommand,
} from "@aws-sdk/client-iam";
import { instanceRoleName, type PolicyDocument } from "../ops/aws/iam.ts";
import { venvBin } from "../ops/local/python_env.ts";
import { tcpProbe } from "../ops/tcp_probe.ts";
import { sleep } from "../time.ts";

/** Access keys of a moto IAM user. */
export interface MotoCredentials {
  /** Access key id. */
  accessKeyId: string;
  /** Secret access key. */
  secretAccessKey: string;
}

/** A running IAM-enforcing moto; dispose it to stop the server. */
export class IamMoto implements AsyncDisposable {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  /** An administrator's keys, for set-up. */
  readonly admin: MotoCredentials;
  readonly #process: Deno.ChildProcess;
  #users = 0;

  private constructor(endpoint: string, admin: MotoCredentials, process: Deno.ChildProcess) {
    this.endpoint = endpoint;
    this.admin = admin;
    this.#process = process;
  }

  /** Starts moto on a free port and creates the administrator. */
  static async start(): Promise<IamMoto> {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const process = new Deno.Command(venvBin("moto_server"), {
      args: ["-H", "127.0.0.1", "-p", String(port)],
      env: { INITIAL_NO_AUTH_ACTION_COUNT: "3" },
      stdout: "null",
      stderr: "null",
    }).spawn();
    const endpoint = `http://127.0.0.1:${port}`;
    for (let i = 0; await tcpProbe("127.0.0.1", port, 1000) !== undefined; i++) {
      if (i > 300) {
        process.kill();
        throw new Error(`moto_server did not listen on ${port} within 30 s.`);
      }
      await sleep(100);
    }
    const iam = new IAMClient({
      region: "us-east-1",
      endpoint,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    const admin = await createUser(iam, "admin", {
      Version: "2012-10-17",
      Statement: [{ Sid: "All", Effect: "Allow", Action: ["*"], Resource: "*" }],
    });
    iam.destroy();
    return new IamMoto(endpoint, admin, process);
  }

  /** Creates a user holding exactly `policy` (inline); returns its keys. */
  async userWith(policy: PolicyDocument): Promise<MotoCredentials> {
    const iam = new IAMClient({
      region: "us-east-1",
      endpoint: this.endpoint,
      credentials: this.admin,
    });
    try {
      return await createUser(iam, `user-${++this.#users}`, policy);
    } finally {
      iam.destroy();
    }
  }

  /** The AWS settings for clients acting as `credentials`. */
  client(credentials: MotoCredentials = this.admin) {
    return { region: "us-east-1", endpoint: this.endpoint, credentials };
  }

  /** Stops the server. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#process.kill();
    } catch { /* already gone */ }
    await this.#process.status;
  }
}

async function createUser(
  iam: IAMClient,
  name: string,
  policy: PolicyDocument | { Version: string; Statement: unknown[] },
): Promise<MotoCredentials> {
  await iam.send(new CreateUserCommand({ UserName: name }));
  await iam.send(
    new PutUserPolicyCommand({
      UserName: name,
      PolicyName: "policy",
      PolicyDocument: JSON.stringify(policy),
    }),
  );
  const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: name }));
  return { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! };
}

/**
 * The policy as moto can enforce it: S3 statements unchanged (moto checks their ARNs); every other
 * statement's resources widened to `*` (moto checks only their actions).
 */
export function enforceableByMoto(policy: PolicyDocument): PolicyDocument {
  return {
    ...policy,
    Statement: policy.Statement.map((s) =>
      s.Action.every((a) => a.startsWith("s3:")) ? s : { ...s, Resource: "*" }
    ),
  };
}

/** `policy` without `action` (in every statement); throws when no statement had it. */
export function without(policy: PolicyDocument, action: string): PolicyDocument {
  if (!policy.Statement.some((s) => s.Action.includes(action))) {
    throw new Error(`The policy has no ${action} to remove.`);
  }
  return {
    ...policy,
    Statement: policy.Statement
      .map((s) => ({ ...s, Action: s.Action.filter((a) => a !== action) }))
      .filter((s) => s.Action.length > 0),
  };
}

/**
 * Creates the instance role and profile `deno task ec2 apply` passes to deployment `name`
 * (`<name>-broker`), as the README has the learner do once; on moto, apply fails without it.
 */
export async function createInstanceProfile(aws: IAMClientConfig, name: string): Promise<void> {
  const iam = new IAMClient(aws);
  const role = instanceRoleName(name);
  try {
    await iam.send(new CreateRoleCommand({ RoleName: role, AssumeRolePolicyDocument: "{}" }));
    await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: role }));
    await iam.send(
      new AddRoleToInstanceProfileCommand({ InstanceProfileName: role, RoleName: role }),
    );
  } finally {
    iam.destroy();
  }
}
