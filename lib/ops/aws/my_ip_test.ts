import assert from "node:assert/strict";
import { detectMyIp, MyIpError, toHostCidr } from "./my_ip.ts";

Deno.test("toHostCidr opens a single IPv4 host as /32", () => {
  assert.equal(toHostCidr("203.0.113.7"), "203.0.113.7/32");
  assert.equal(toHostCidr(" 203.0.113.7/32\n"), "203.0.113.7/32");
});

Deno.test("toHostCidr opens a single IPv6 host as /128", () => {
  assert.equal(toHostCidr("2001:DB8::7"), "2001:db8::7/128");
});

Deno.test("toHostCidr refuses networks, private addresses and text that is not an IP", () => {
  for (const bad of ["0.0.0.0/0", "203.0.113.0/24", "2001:db8::/64"]) {
    assert.throws(() => toHostCidr(bad), /opens a whole network/);
  }
  for (const bad of ["0.0.0.0", "10.1.2.3", "192.168.1.5", "172.20.0.1", "127.0.0.1"]) {
    assert.throws(() => toHostCidr(bad), /private or reserved address/);
  }
  for (const bad of ["", "example.com", "256.1.1.1", "1.2.3", "1.2.3.4/32/1", "::"]) {
    assert.throws(
      () => toHostCidr(bad),
      (e) => e instanceof MyIpError && /not an IP/.test(e.message),
    );
  }
});

Deno.test("detectMyIp reads the address a service returns", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("198.51.100.23\n"),
  );
  try {
    const cidr = await detectMyIp({ url: `http://127.0.0.1:${server.addr.port}/` });
    assert.equal(cidr, "198.51.100.23/32");
  } finally {
    await server.shutdown();
  }
});

Deno.test("detectMyIp tells the user to pass --my-ip when the service is unreachable", async () => {
  await assert.rejects(
    detectMyIp({ url: "http://127.0.0.1:1/", timeoutMs: 2000 }),
    (e) => e instanceof MyIpError && /Cannot detect.*pass it with --my-ip/.test(e.message),
  );
});

Deno.test("detectMyIp refuses an answer that is not a public address", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("<html>captive portal</html>"),
  );
  try {
    await assert.rejects(
      detectMyIp({ url: `http://127.0.0.1:${server.addr.port}/` }),
      /returned "<html>captive portal<\/html>".*--my-ip/,
    );
  } finally {
    await server.shutdown();
  }
});
