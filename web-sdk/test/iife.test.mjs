// The <script> build: dist/kyso.iife.js defines one global, `Kyso`, with the same API as the
// module. Loaded here as a browser would, in a fresh global scope with only `fetch`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import vm from "node:vm";

test("the IIFE build defines window.Kyso with connect, KysoError and the messages", async () => {
  const source = readFileSync(new URL("../dist/kyso.iife.js", import.meta.url), "utf8");
  const fetch = async () => new Response(JSON.stringify({ error: { code: "ORIGIN_NOT_ALLOWED", message: "không" } }), { status: 403 });
  const context = vm.createContext({ fetch, Response, URL, AbortController, setTimeout, clearTimeout, console });
  vm.runInContext(source, context);
  const Kyso = context.Kyso;
  assert.equal(typeof Kyso.connect, "function");
  assert.equal(Kyso.MESSAGES.PIN_LOCKED.en, "The PIN is locked. Ask the certificate issuer to unlock the token.");
  await assert.rejects(Kyso.connect({ fetch }), (e) => e instanceof Kyso.KysoError && e.code === "ORIGIN_NOT_ALLOWED");
  assert.equal(typeof Kyso.vgca.install, "function");
  assert.ok(readFileSync(new URL("../dist/kyso.iife.js.map", import.meta.url), "utf8").includes("kyso.ts"));
});
