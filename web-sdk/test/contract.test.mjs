// The SDK's contract files are what the agent's sources say: regenerating them from
// ../src/openapi.json and ../src/i18n/*.ftl gives the committed files byte for byte.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { apiTypes, messages } from "../scripts/generate.mjs";

const committed = (path) => readFile(new URL(`../${path}`, import.meta.url), "utf8");

test("src/generated/api.ts is generated from the OpenAPI document", async () => {
  assert.equal(await committed("src/generated/api.ts"), await apiTypes(), "run `npm run generate` in web-sdk/");
});

test("src/generated/messages.ts is generated from the Fluent catalogue", async () => {
  const generated = await messages();
  assert.equal(await committed("src/generated/messages.ts"), generated, "run `npm run generate` in web-sdk/");
  // The catalogue's words, not a copy: one message checked against vi.ftl itself.
  const vi = await readFile(new URL("../../src/i18n/vi.ftl", import.meta.url), "utf8");
  const line = vi.split("\n").find((l) => l.startsWith("error-pin-locked = "));
  assert.ok(generated.includes(JSON.stringify(line.slice("error-pin-locked = ".length))));
});

test("the generated wire types name every operation of the contract", async () => {
  const types = await apiTypes();
  for (const id of ["getStatus", "listCertificates", "sign", "signBatch", "events", "preparePdf", "embedSignature", "verifyPdf"]) {
    assert.ok(types.includes(`    ${id}: {`), id);
  }
});
