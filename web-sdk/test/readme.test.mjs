// The README's integration example is code that runs: every line of a block marked
// `<!-- readme-check: PATH -->` is in that file, which the end-to-end tests (the demo page) or
// the examples (the DMS server) run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

const root = new URL("../../", import.meta.url);

test("the README's integration example is taken from code that is tested", () => {
  const readme = readFileSync(new URL("README.md", root), "utf8");
  const blocks = [...readme.matchAll(/<!-- readme-check: (\S+) -->\n```\w*\n([\s\S]*?)```/g)];
  assert.ok(blocks.length >= 2, "marked blocks");
  for (const [, path, code] of blocks) {
    const source = readFileSync(new URL(path, root), "utf8").split("\n").map((l) => l.trim());
    for (const line of code.split("\n").map((l) => l.trim()).filter(Boolean)) {
      assert.ok(source.includes(line), `${path} has no line: ${line}`);
    }
  }
});
