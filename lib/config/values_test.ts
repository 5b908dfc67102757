import assert from "node:assert/strict";
import { byteSize, choice, wholeNumber } from "./value_types.ts";
import { parseBindHost, parseByteSize, parseListenAddress, parseMultiaddrList } from "./values.ts";

Deno.test("byte sizes take B, KiB, MiB and GiB in any case and refuse zero", () => {
  assert.equal(parseByteSize("10485760"), 10485760);
  assert.equal(parseByteSize("512KiB"), 512 * 1024);
  assert.equal(parseByteSize("10 mib"), 10 * 1024 ** 2);
  assert.equal(parseByteSize("1GiB"), 1024 ** 3);
  for (const bad of ["0", "1.5MiB", "10MB", "-1", "", "KiB"]) {
    assert.equal(parseByteSize(bad), undefined, bad);
  }
  assert.equal(byteSize("16KiB").accepted, "a positive byte count such as 16384 or 16KiB");
});

Deno.test("listen addresses take HOST:PORT, [IPv6]:PORT and :PORT", () => {
  assert.deepEqual(parseListenAddress("127.0.0.1:3030"), { hostname: "127.0.0.1", port: 3030 });
  assert.deepEqual(parseListenAddress("[::1]:0"), { hostname: "::1", port: 0 });
  assert.deepEqual(parseListenAddress(":80"), { hostname: "0.0.0.0", port: 80 });
  for (const bad of ["localhost", ":65536", "::1:80", "a b:1"]) {
    assert.equal(parseListenAddress(bad), undefined, bad);
  }
});

Deno.test("bind hosts are IP addresses or localhost, never other names", () => {
  for (const good of ["0.0.0.0", "203.0.113.7", "::", "::1", "fd00::2", "::ffff:10.0.0.1"]) {
    assert.equal(parseBindHost(good), good);
  }
  assert.equal(parseBindHost("[::1]"), "::1");
  assert.equal(parseBindHost("localhost"), "localhost");
  for (const bad of ["relay.example.org", "1.2.3.4.5", "300.0.0.1", "1::2::3", "0.0.0.0:1", ""]) {
    assert.equal(parseBindHost(bad), undefined, bad);
  }
});

Deno.test("multiaddr lists are comma-separated and checked for shape only", () => {
  assert.deepEqual(parseMultiaddrList(""), []);
  assert.deepEqual(parseMultiaddrList("/ip4/1.2.3.4/tcp/1, /dns4/a.example/tcp/2"), [
    "/ip4/1.2.3.4/tcp/1",
    "/dns4/a.example/tcp/2",
  ]);
  assert.equal(parseMultiaddrList("ip4/1.2.3.4"), undefined);
});

Deno.test("value types say what they accept", () => {
  assert.equal(choice("MODE", ["a", "b", "c"]).accepted, "a, b or c");
  const hours = wholeNumber({ min: 1, max: 8760, unit: "hours" });
  assert.equal(hours.placeholder, "HOURS");
  assert.equal(hours.accepted, "a whole number of hours from 1 to 8760");
  assert.equal(hours.parse("8761"), undefined);
  assert.equal(wholeNumber({ min: 1, max: 2 }).placeholder, "COUNT");
});
