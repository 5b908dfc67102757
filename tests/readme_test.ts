import assert from "node:assert/strict";
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
