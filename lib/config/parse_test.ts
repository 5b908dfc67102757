import assert from "node:assert/strict";
import { ConfigError, parseCommand } from "./mod.ts";

function configOf(args: string[], env: Record<string, string> = {}) {
  const command = parseCommand(args, env);
  assert.equal(command.kind, "run");
  return command.config;
}

function rejection(args: string[], env: Record<string, string> = {}): string {
  try {
    parseCommand(args, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
    assert.ok(!error.message.includes("\n"), "the error is one line");
    return error.message;
  }
  assert.fail(`${args.join(" ")} was accepted`);
}

Deno.test("config has the documented defaults for the six product flags", () => {
  const config = configOf([]);
  assert.deepEqual(config.listen, { hostname: "0.0.0.0", port: 3030 });
  assert.equal(config.db, "relay.db");
  assert.equal(config.mode, "store-and-forward");
  assert.equal(config.ttlHours, 72);
  assert.equal(config.maxBuffer, 10485760);
  assert.equal(config.p2pPort, 4001);
  assert.equal(config.logLevel, "info");
  assert.equal(config.logFormat, "text");
});

Deno.test("config parses every flag from the command line", () => {
  const config = configOf([
    "--listen=127.0.0.1:0",
    "--db",
    "/tmp/x.db",
    "--mode",
    "stateless",
    "--ttl-hours",
    "1",
    "--max-buffer",
    "2MiB",
    "--p2p-port",
    "0",
    "--log-level",
    "debug",
    "--log-format",
    "json",
  ]);
  assert.deepEqual(config.listen, { hostname: "127.0.0.1", port: 0 });
  assert.equal(config.db, "/tmp/x.db");
  assert.equal(config.mode, "stateless");
  assert.equal(config.ttlHours, 1);
  assert.equal(config.maxBuffer, 2 * 1024 * 1024);
  assert.equal(config.p2pPort, 0);
  assert.equal(config.logLevel, "debug");
  assert.equal(config.logFormat, "json");
});

Deno.test("config accepts IPv6 and host-less listen addresses", () => {
  assert.deepEqual(configOf(["--listen", "[::1]:8080"]).listen, { hostname: "::1", port: 8080 });
  assert.deepEqual(configOf(["--listen", ":8080"]).listen, { hostname: "0.0.0.0", port: 8080 });
  assert.deepEqual(configOf(["--listen", "relay.local:1"]).listen, {
    hostname: "relay.local",
    port: 1,
  });
});

Deno.test("config reads VAULTMESH_RELAY_* variables and lets flags win over them", () => {
  const env = { VAULTMESH_RELAY_MODE: "stateless", VAULTMESH_RELAY_TTL_HOURS: "5" };
  assert.equal(configOf([], env).mode, "stateless");
  assert.equal(configOf([], env).ttlHours, 5);
  assert.equal(configOf(["--mode", "store-and-forward"], env).mode, "store-and-forward");
});

Deno.test("config rejects bad values naming the flag, the value and what is accepted", () => {
  assert.equal(
    rejection(["--mode", "fast"]),
    'Cannot parse --mode "fast": expected store-and-forward or stateless',
  );
  assert.match(rejection(["--listen", ":99999"]), /^Cannot parse --listen ":99999": expected /);
  assert.match(rejection(["--listen", "localhost"]), /--listen "localhost"/);
  assert.match(rejection(["--ttl-hours", "-1"]), /^Cannot parse --ttl-hours "-1": expected /);
  assert.match(rejection(["--ttl-hours", "0"]), /--ttl-hours "0"/);
  assert.match(rejection(["--ttl-hours", "1.5"]), /--ttl-hours "1.5"/);
  assert.match(rejection(["--max-buffer", "0"]), /--max-buffer "0"/);
  assert.match(rejection(["--max-buffer", "10 parsecs"]), /--max-buffer "10 parsecs"/);
  assert.match(rejection(["--p2p-port", "65536"]), /--p2p-port "65536"/);
  assert.match(rejection(["--log-level", "loud"]), /--log-level "loud": expected debug, info/);
  assert.match(rejection(["--log-format", "xml"]), /--log-format "xml": expected text or json/);
  assert.match(rejection(["--db", ""]), /--db "": expected a file path/);
});

Deno.test("config rejects a bad environment value naming the variable", () => {
  assert.equal(
    rejection([], { VAULTMESH_RELAY_MODE: "fast" }),
    'Cannot parse VAULTMESH_RELAY_MODE "fast": expected store-and-forward or stateless',
  );
});

Deno.test("config rejects an unknown flag and suggests the closest one", () => {
  assert.equal(
    rejection(["--lisen", ":1"]),
    'Unknown flag "--lisen" (did you mean --listen?): run with --help to list the flags',
  );
  assert.match(rejection(["--zzzzzzzzzzzz"]), /^Unknown flag "--zzzzzzzzzzzz": run with --help/);
});

Deno.test("config rejects a flag without its value and stray arguments", () => {
  assert.match(rejection(["--mode"]), /^Missing value for --mode/);
  assert.match(rejection(["stateless"]), /^Unexpected argument "stateless"/);
});

Deno.test("config turns --help and --version into commands", () => {
  assert.equal(parseCommand(["--help"], {}).kind, "help");
  assert.equal(parseCommand(["-h"], {}).kind, "help");
  assert.equal(parseCommand(["--version"], {}).kind, "version");
});

Deno.test("config binds p2p to every interface by default, independent of --listen", () => {
  assert.equal(configOf([]).p2pListen, "0.0.0.0");
  assert.equal(configOf(["--listen", "127.0.0.1:3030"]).p2pListen, "0.0.0.0");
  assert.equal(configOf(["--p2p-listen", "127.0.0.1"]).p2pListen, "127.0.0.1");
  assert.equal(configOf(["--p2p-listen", "[::1]"]).p2pListen, "::1");
  assert.equal(configOf([], { VAULTMESH_RELAY_P2P_LISTEN: "::" }).p2pListen, "::");
  for (const bad of ["relay.example.org", "0.0.0.0:4001", "256.1.1.1", "1.2.3", ":::", ""]) {
    assert.match(
      rejection(["--p2p-listen", bad]),
      /^Cannot parse --p2p-listen .*: expected an IPv4 or IPv6 address/,
    );
  }
});

Deno.test("config refuses a --db that names a folder, saying which file to name instead", () => {
  const folder = Deno.makeTempDirSync();
  try {
    assert.equal(
      rejection(["--db", folder]),
      `Cannot use --db ${
        JSON.stringify(folder)
      }: it is a folder; name the database file inside it, e.g. ${folder}/relay.db`,
    );
    assert.match(
      rejection([], { VAULTMESH_RELAY_DB: `${folder}/` }),
      /^Cannot use VAULTMESH_RELAY_DB /,
    );
    assert.equal(configOf(["--db", `${folder}/relay.db`]).db, `${folder}/relay.db`);
  } finally {
    Deno.removeSync(folder);
  }
});

Deno.test("config asks for the scheme when check is given a bare host name", () => {
  assert.equal(
    rejection(["check", "relay.example.org"]),
    'Cannot check "relay.example.org": the URL lacks its scheme; add https:// (http:// for a ' +
      "relay without TLS), e.g. vaultmesh-relay check https://relay.example.org",
  );
  assert.match(
    rejection(["check", "localhost:3030"]),
    /e\.g\. vaultmesh-relay check https:\/\/localhost:3030$/,
  );
});
