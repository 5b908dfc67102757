import assert from "node:assert/strict";
import manifest from "../deno.json" with { type: "json" };
import { flagsMarkdownTable } from "../lib/config/mod.ts";
import { readmeFlagsTable, tableCells } from "../scripts/update_readme.ts";

Deno.test("README flags table is the one generated from lib/config/", () => {
  const readme = Deno.readTextFileSync(new URL("../README.md", import.meta.url));
  assert.deepEqual(
    tableCells(readmeFlagsTable(readme)),
    tableCells(flagsMarkdownTable()),
    "README.md is stale: run deno run -R -W scripts/update_readme.ts && deno fmt README.md",
  );
});

Deno.test("README gives the two set-up commands that CI also runs", () => {
  const readme = Deno.readTextFileSync(new URL("../README.md", import.meta.url));
  const ci = Deno.readTextFileSync(new URL("../.ci/run", import.meta.url));
  assert.ok(readme.includes("npx --yes deno@2.9.6 task start"));
  assert.ok(readme.includes("npx --yes deno@2.9.6 task test"));
  assert.ok(ci.includes("npx --yes deno@2.9.6 task test"));
});

Deno.test("README's from-source command for a service manager is the start task's, V8 flags included", () => {
  const readme = Deno.readTextFileSync(new URL("../README.md", import.meta.url));
  assert.match(manifest.tasks.start, /--v8-flags=/);
  assert.ok(readme.includes(`\n    ${manifest.tasks.start}\n`), manifest.tasks.start);
});
