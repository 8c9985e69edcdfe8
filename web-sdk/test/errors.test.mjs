// Unit tests of the SDK's error mapping with a scripted fetch (no agent): every agent code,
// and the three ways an unreachable agent is told apart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect, errorFromBody, KysoError, MESSAGES } from "../dist/kyso.js";

/** The agent's and the bridge's codes, as the contract lists them. */
const AGENT_CODES = JSON.parse(readFileSync(new URL("../../src/openapi.json", import.meta.url), "utf8")).components.schemas.ErrorCode.enum;

const json = (status, body) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

test("every agent error code maps to a KysoError with both messages", () => {
  for (const code of AGENT_CODES) {
    const error = errorFromBody({ error: { code, message: "từ agent", retriesLeft: 2 } });
    assert.ok(error instanceof KysoError);
    assert.equal(error.code, code);
    assert.equal(error.message, "từ agent");
    assert.equal(error.retriesLeft, 2);
    assert.ok(MESSAGES[code].vi.length > 0 && MESSAGES[code].en.length > 0);
  }
  assert.equal(errorFromBody({ error: { code: "SOMETHING_NEW" } }).code, "INTERNAL");
  assert.equal(errorFromBody(null).code, "INTERNAL");
});

test("the SDK knows exactly the contract's codes and its own five", async () => {
  const agent = [...AGENT_CODES].sort();
  assert.ok(agent.includes("PIN_INCORRECT") && agent.includes("CMS_MISMATCH"));
  for (const code of agent) assert.ok(MESSAGES[code], code);
  const own = Object.keys(MESSAGES).filter((c) => !agent.includes(c)).sort();
  assert.deepEqual(own, ["ABORTED", "AGENT_NOT_RUNNING", "API_VERSION_UNSUPPORTED", "CERTIFICATE_NOT_TRUSTED", "LOCAL_NETWORK_BLOCKED"]);
});

test("an agent that refuses the origin gives ORIGIN_NOT_ALLOWED at connect", async () => {
  const fetch = async () => json(403, { error: { code: "ORIGIN_NOT_ALLOWED", message: "không cho phép" } });
  await assert.rejects(connect({ fetch }), (e) => e.code === "ORIGIN_NOT_ALLOWED");
});

test("no agent at all is AGENT_NOT_RUNNING", async () => {
  const fetch = async () => { throw new TypeError("Failed to fetch"); };
  await assert.rejects(connect({ fetch }), (e) => e.code === "AGENT_NOT_RUNNING" && /Kyso/.test(e.message));
});

test("an agent whose certificate is not trusted answers its probe: CERTIFICATE_NOT_TRUSTED", async () => {
  const fetch = async (url) => {
    if (String(url).startsWith("http://127.0.0.1:47400/probe")) return new Response(null, { status: 204 });
    throw new TypeError("Failed to fetch");
  };
  await assert.rejects(connect({ fetch, lang: "en" }), (e) => e.code === "CERTIFICATE_NOT_TRUSTED" && /trust/.test(e.message));
});

test("a denied local-network permission is LOCAL_NETWORK_BLOCKED", async () => {
  const saved = Object.getOwnPropertyDescriptor(globalThis, "navigator");
  Object.defineProperty(globalThis, "navigator", {
    configurable: true,
    value: { permissions: { query: async ({ name }) => ({ state: name === "loopback-network" ? "denied" : "prompt" }) } },
  });
  try {
    const fetch = async () => { throw new TypeError("Failed to fetch"); };
    await assert.rejects(connect({ fetch }), (e) => e.code === "LOCAL_NETWORK_BLOCKED");
  } finally {
    if (saved) Object.defineProperty(globalThis, "navigator", saved);
    else delete globalThis.navigator;
  }
});

test("an agent of another API version is refused", async () => {
  const fetch = async () => json(200, { apiVersion: 2, tokens: [], certificates: [] });
  await assert.rejects(connect({ fetch }), (e) => e.code === "API_VERSION_UNSUPPORTED");
});

test("sign sends the digest and document, never a PIN, and maps a wrong PIN", async () => {
  const calls = [];
  const fetch = async (url, init = {}) => {
    calls.push({ url: String(url), init });
    if (String(url).endsWith("/v1/status")) return json(200, { apiVersion: 1, tokens: [], certificates: [] });
    return json(409, { error: { code: "PIN_INCORRECT", message: "Mã PIN không đúng. Còn 2 lần thử.", retriesLeft: 2 } });
  };
  const kyso = await connect({ fetch });
  await assert.rejects(
    kyso.sign({ certificateId: "ab".repeat(32), digest: "AAAA", document: { title: "Tờ trình", purpose: "approve" } }),
    (e) => e.code === "PIN_INCORRECT" && e.retriesLeft === 2,
  );
  const body = JSON.parse(calls[1].init.body);
  assert.deepEqual(Object.keys(body).sort(), ["certificateId", "digest", "digestAlgorithm", "document", "format"]);
  assert.equal(calls[1].init.headers["Content-Type"], "application/json");
});

/** A fetch that answers the status at once and never answers anything else (a PIN dialog the
 * user walked away from), but honours its AbortSignal as browsers do. */
const hanging = async (url, init = {}) => {
  if (String(url).endsWith("/v1/status")) return json(200, { apiVersion: 1, tokens: [], certificates: [] });
  return new Promise((_, reject) => {
    init.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
  });
};
const request = { certificateId: "ab".repeat(32), digest: "AAAA", document: { title: "Tờ trình", purpose: "approve" } };

test("a call past its time limit ends with TIMEOUT", async () => {
  const kyso = await connect({ fetch: hanging, lang: "en" });
  const started = Date.now();
  await assert.rejects(kyso.sign(request, { timeoutMs: 50 }), (e) => e.code === "TIMEOUT" && /timed out/.test(e.message));
  assert.ok(Date.now() - started < 5000);
});

test("the page's own AbortSignal ends a call with ABORTED, and an aborted signal never sends", async () => {
  const kyso = await connect({ fetch: hanging });
  const controller = new AbortController();
  const pending = kyso.signBatch({ certificateId: "ab".repeat(32), items: [{ digest: "AAAA", document: request.document }] }, { signal: controller.signal });
  setTimeout(() => controller.abort(), 20);
  await assert.rejects(pending, (e) => e.code === "ABORTED" && e.message.length > 0);
  const calls = [];
  const counting = async (url, init) => { calls.push(String(url)); return hanging(url, init); };
  const again = await connect({ fetch: counting });
  await assert.rejects(again.status({ signal: AbortSignal.abort() }), (e) => e.code === "ABORTED");
});

test("the first port of the range whose agent answers this user wins; the best reason is kept", async () => {
  // A terminal server: 47400 is another user's agent (it closes the connection, and its probe
  // too), 47401 is an agent whose certificate this browser does not trust, 47402 is this user's.
  const tried = [];
  const fetch = async (url) => {
    tried.push(url);
    if (url === "https://127.0.0.1:47402/v1/status") {
      return json(200, { apiVersion: 1, agentVersion: "t", tokens: [], certificates: [] });
    }
    if (url === "http://127.0.0.1:47401/probe") return new Response(null, { status: 204 });
    throw new TypeError("Failed to fetch");
  };
  const kyso = await connect({ fetch });
  assert.equal(kyso.base, "https://127.0.0.1:47402");
  assert.deepEqual(tried.filter((u) => u.endsWith("/v1/status")).slice(0, 3), [
    "https://127.0.0.1:47400/v1/status", "https://127.0.0.1:47401/v1/status", "https://127.0.0.1:47402/v1/status"]);
  // With no agent for this user, the untrusted certificate is what the page is told.
  const none = async (url) => {
    if (url === "http://127.0.0.1:47401/probe") return new Response(null, { status: 204 });
    throw new TypeError("Failed to fetch");
  };
  await assert.rejects(connect({ fetch: none }), (e) => e.code === "CERTIFICATE_NOT_TRUSTED");
});
