import assert from "node:assert/strict";
import {
  envName,
  FLAG_GROUPS,
  FLAG_KEYS,
  flagName,
  FLAGS,
  flagsMarkdownTable,
  helpText,
} from "./mod.ts";

const WIDTHS = [60, 72, 80, 100, 120];

Deno.test("help lists every flag with its placeholder, default and variable", () => {
  for (const width of WIDTHS) {
    // Spaces collapsed: "[env:" and a long variable name may be wrapped onto two lines.
    const help = helpText("9.9.9", { width }).replace(/\s+/g, " ");
    for (const key of FLAG_KEYS) {
      const spec = FLAGS[key];
      assert.ok(help.includes(`${flagName(key)} ${spec.placeholder}`), `${flagName(key)} listed`);
      assert.ok(help.includes(`[env: ${envName(key)}]`), `${envName(key)} listed at ${width}`);
      assert.ok(help.includes(`[default: ${spec.default || "(none)"}]`), `${key} default listed`);
    }
  }
});

Deno.test("help fits the width it is laid out for, with no line longer", () => {
  for (const width of WIDTHS) {
    for (const line of helpText("9.9.9", { width }).split("\n")) {
      assert.ok(line.length <= width, `${line.length} > ${width}: ${JSON.stringify(line)}`);
    }
  }
  const wide = helpText("9.9.9", { width: 500 }).split("\n");
  assert.ok(wide.every((line) => line.length <= 120), "very wide terminals get 120 columns");
  const narrow = helpText("9.9.9", { width: 20 }).split("\n");
  assert.ok(narrow.every((line) => line.length <= 60), "narrow terminals get 60 columns");
});

Deno.test("help starts with the usage and the check subcommand", () => {
  const lines = helpText("9.9.9").split("\n");
  assert.match(lines[0]!, /^vaultmesh-relay 9\.9\.9: /);
  const usage = lines.indexOf("Usage:");
  assert.ok(usage > 0);
  assert.match(lines[usage + 1]!, /^ {2}vaultmesh-relay \[flags\] +run the relay$/);
  assert.match(lines[usage + 2]!, /^ {2}vaultmesh-relay check <url> +probe a deployed relay/);
  assert.ok(lines.some((line) => /^ {2}vaultmesh-relay -h, --help +print this help/.test(line)));
});

Deno.test("help lists the flags under their group headings, in group order", () => {
  const lines = helpText("9.9.9").split("\n");
  const headings = FLAG_GROUPS.map(({ title }) => lines.indexOf(`${title}:`));
  assert.ok(headings.every((index) => index > 0), "every heading present");
  assert.deepEqual(headings, [...headings].sort((a, b) => a - b), "headings in order");
  for (const [i, { group }] of FLAG_GROUPS.entries()) {
    const end = headings[i + 1] ?? lines.length;
    const section = lines.slice(headings[i]!, end).join("\n");
    for (const key of FLAG_KEYS.filter((k) => FLAGS[k].group === group)) {
      assert.ok(section.includes(`  ${flagName(key)} `), `${flagName(key)} under ${group}`);
    }
  }
});

Deno.test("help aligns descriptions in one column on a 100-column terminal", () => {
  const lines = helpText("9.9.9", { width: 100 }).split("\n");
  const beside = lines.filter((line) => /^ {2}--\S+ \S+ {2,}\S/.test(line));
  assert.ok(beside.length > FLAG_KEYS.length / 2, "most flags have their description beside them");
  const columns = new Set(beside.map((line) => /^ {2}--\S+ \S+ +/.exec(line)![0].length));
  const continued = lines.filter((line) => /^ {10,}\S/.test(line)).map((l) => l.search(/\S/));
  assert.deepEqual([...new Set([...columns, ...continued])], [...columns]);
  assert.equal(columns.size, 1, `description columns: ${[...columns]}`);
});

Deno.test("the flag table is ordered by group and every flag has a known group", () => {
  const order = FLAG_GROUPS.map(({ group }) => group as string);
  const groups = FLAG_KEYS.map((key) => order.indexOf(FLAGS[key].group));
  assert.ok(groups.every((index) => index >= 0));
  assert.deepEqual(groups, [...groups].sort((a, b) => a - b));
});

Deno.test("the Markdown table lists every flag with its variable and default", () => {
  const table = flagsMarkdownTable();
  for (const key of FLAG_KEYS) {
    assert.ok(table.includes(`| \`${flagName(key)}\` | \`${envName(key)}\` |`));
    assert.ok(table.includes(FLAGS[key].help));
  }
  assert.equal(flagName("ttlHours"), "--ttl-hours");
  assert.equal(envName("p2pPort"), "VAULTMESH_RELAY_P2P_PORT");
});
