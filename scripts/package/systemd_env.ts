/**
 * The example settings file of the systemd service, `packaging/systemd/vaultmesh-relay.env`,
 * generated from the flag table in `lib/config/` so it lists every setting with its default.
 *
 * The unit's `ExecStart` carries no flags (a flag on the command line would win over the
 * environment, so an operator's setting would be ignored). The unit sets two defaults of its own
 * with `Environment=` ({@linkcode UNIT_ENVIRONMENT}); `EnvironmentFile=` (this file, installed as
 * {@linkcode SYSTEMD_ENV_PATH}) overrides them and everything else.
 *
 * Usage: deno run -R -W scripts/package/systemd_env.ts   rewrites the example file;
 * `tests/systemd_unit_test.ts` fails, naming this script, when the file is out of date.
 *
 * @module
 */
import { envName, FLAG_KEYS, flagName, FLAGS } from "../../lib/config/mod.ts";
import type { FlagKey } from "../../lib/config/mod.ts";

/** Where the unit reads the operator's settings (`EnvironmentFile=-…`; optional). */
export const SYSTEMD_ENV_PATH = "/etc/vaultmesh-relay/relay.env";

/** The example file in the repository (and as `systemd/vaultmesh-relay.env` in the archive). */
export const SYSTEMD_ENV_EXAMPLE = "packaging/systemd/vaultmesh-relay.env";

/** Settings the unit sets itself with `Environment=`, differing from the relay's defaults. */
export const UNIT_ENVIRONMENT: Readonly<Partial<Record<FlagKey, string>>> = {
  listen: "127.0.0.1:3030",
  db: "/var/lib/vaultmesh-relay/relay.db",
  // LimitNOFILE in the unit; the binary cannot read it without full permissions.
  maxOpenFiles: "65536",
};

/** The text of the example settings file: every flag, commented out, with its default. */
export function systemdEnvExample(): string {
  const lines = [
    "# VaultMesh Relay settings for the systemd service. Install this file as",
    `# ${SYSTEMD_ENV_PATH} (mode 0600: it may hold the metrics token); the unit reads it`,
    "# with EnvironmentFile= and starts the relay without flags, so every setting here takes effect.",
    "#",
    "# Each line is VARIABLE=value. Every setting is listed below, commented out, with the value the",
    "# service uses when the line stays commented. Uncomment a line and change its value, then run",
    "# `sudo systemctl restart vaultmesh-relay`. `vaultmesh-relay --help` explains every flag.",
    "#",
    "# Generated from lib/config/ by scripts/package/systemd_env.ts.",
  ];
  for (const key of FLAG_KEYS) {
    const spec = FLAGS[key];
    const unitValue = UNIT_ENVIRONMENT[key];
    const note = unitValue === undefined
      ? ""
      : ` (set by the unit; the relay's own default is ${JSON.stringify(spec.default)})`;
    lines.push(
      "",
      `# ${flagName(key)} ${spec.placeholder}: ${spec.help}${note}`,
      `#${envName(key)}=${unitValue ?? spec.default}`,
    );
  }
  return lines.join("\n") + "\n";
}

if (import.meta.main) {
  const path = new URL(`../../${SYSTEMD_ENV_EXAMPLE}`, import.meta.url);
  Deno.writeTextFileSync(path, systemdEnvExample());
}
