// A DMS server in Node (18+, fetch only): prepare a draft with `kyso bridge`, have it signed,
// embed the signature, verify the result. Branches on the bridge's stable error codes.
//   node example.mjs DRAFT.pdf SIGNED.pdf
// Environment: KYSO_BRIDGE_URL (http://127.0.0.1:47480), KYSO_BRIDGE_TOKEN, KYSO_SIGN (the
// command that turns a base64 digest into a base64 CMS: in production, the browser and the SDK).
import { readFile, writeFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";

const bridge = process.env.KYSO_BRIDGE_URL ?? "http://127.0.0.1:47480";
const token = process.env.KYSO_BRIDGE_TOKEN;

class BridgeError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(path, body) {
  const reply = await fetch(bridge + path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}`, "Accept-Language": "en" },
    body: JSON.stringify(body),
  });
  const json = await reply.json();
  if (!reply.ok) throw new BridgeError(reply.status, json.error.code, json.error.message);
  return json;
}

const sign = (digest) => execFileSync(process.env.KYSO_SIGN, [digest], { encoding: "utf8" }).trim();

const [draftPath, signedPath] = process.argv.slice(2);
const pdf = (await readFile(draftPath)).toString("base64");

// 1. The server prepares the draft: signature field, placeholder, the digest to sign.
const prepared = await call("/v1/prepare", { pdf, role: "approve", reason: "Ký phê duyệt" });
// 2. The user signs the digest (the browser, through the SDK and the agent).
const cms = sign(prepared.digest);
// 3. The server embeds the signature; a signature made for another preparation is refused.
try {
  const other = await call("/v1/prepare", { pdf, role: "approve" });
  await call("/v1/embed", { prepared: other.prepared, cms });
  throw new Error("a CMS for another preparation was accepted");
} catch (e) {
  if (!(e instanceof BridgeError) || e.code !== "CMS_MISMATCH") throw e;
  console.log(`refused as expected: ${e.code} (${e.status})`);
}
const { signed } = await call("/v1/embed", { prepared: prepared.prepared, cms });
await writeFile(signedPath, Buffer.from(signed, "base64"));
// 4. Anyone can verify it.
const report = await call("/v1/verify", { pdf: signed, revocation: "off" });
const verdicts = report.signatures.map((s) => s.verdict);
console.log(`node: ${signedPath}: ${verdicts.join(", ")}`);
if (verdicts.length !== 1 || verdicts[0] !== "valid") process.exit(1);
