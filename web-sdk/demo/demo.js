// The demo DMS page: the page keeps the PDF, the bridge prepares and embeds, the agent signs a
// digest after its own PIN dialog. Written as a DMS integrator would, with the SDK.
import { connect, KysoError } from "/kyso.js";

const $ = (id) => document.getElementById(id);
const show = (text, kind = "") => { $("status").textContent = text; $("status").className = kind; };
let pdf = null;

const toBase64 = (bytes) => { let s = ""; for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000)); return btoa(s); };
const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const bridge = async (path, body) => {
  const reply = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const json = await reply.json();
  if (!reply.ok) throw new Error(json.error?.message ?? reply.statusText);
  return json;
};
const image = async (name) => toBase64(new Uint8Array(await (await fetch(`/${name}`)).arrayBuffer()));

const config = async () => (await fetch("/config.json")).json();

async function agent() {
  const { agentPort } = await config();
  return connect({ ports: [agentPort], lang: "vi" });
}

async function current() {
  if (!pdf) pdf = new Uint8Array(await (await fetch("/sample.pdf")).arrayBuffer());
  return pdf;
}

async function sign(role, kind, extra) {
  show("Đang chuẩn bị văn bản…");
  const kyso = await agent();
  const usable = (await kyso.certificates({ kind })).filter((c) => c.validity === "valid" && c.token.present);
  const cert = usable.find((c) => c.holder === "Nguyễn Văn An") ?? usable[0];
  if (!cert) throw new KysoError("CERTIFICATE_NOT_FOUND");
  const document = { title: "Quyết định về việc thử nghiệm ký số", number: `${$("number").value}/QĐ-UBND`, purpose: role };
  // Where the agency's policy attests this DMS, the server vouches for what is signed: the
  // bridge mints a ticket with the digest, and the agent shows the ticket's title and number.
  const { tickets } = await config();
  const ticket = tickets ? { origin: location.origin, title: document.title, number: document.number } : undefined;
  const prepared = await bridge("/v1/prepare", { pdf: toBase64(await current()), role, certificate: cert.certificate, ticket, ...extra });
  show("Hãy nhập mã PIN trong cửa sổ của Kyso…");
  const signed = await kyso.sign({ certificateId: cert.id, digest: prepared.digest, document, ticket: prepared.ticket });
  const embedded = await bridge("/v1/embed", { prepared: prepared.prepared, cms: signed.cms });
  pdf = fromBase64(embedded.signed);
  const link = $("download");
  link.href = URL.createObjectURL(new Blob([pdf], { type: "application/pdf" }));
  link.hidden = false;
  show(`Đã ký: ${cert.holder}`, "ok");
}

const guard = (fn) => async () => {
  try { await fn(); } catch (e) {
    show(e instanceof KysoError ? `${e.message} [${e.code}]` : `Lỗi: ${e.message}`, "bad");
    document.body.dataset.error = e.code ?? "ERROR";
  }
};

$("source").addEventListener("change", () => { if ($("source").value === "upload") $("file").click(); else pdf = null; });
$("file").addEventListener("change", async () => { pdf = new Uint8Array(await $("file").files[0].arrayBuffer()); show("Đã tải lên văn bản."); });
$("approve").addEventListener("click", guard(async () => sign("approve", "personal", { image: await image("signature.png"), anchor: "Nguyễn Văn An" })));
$("issue").addEventListener("click", guard(async () => {
  const today = new Date(Date.now() + 7 * 3600e3).toISOString().slice(0, 10);
  await sign("issue", "organization", { image: await image("seal.png"), number: $("number").value, date: today });
}));
$("verify").addEventListener("click", guard(async () => {
  const report = await bridge("/v1/verify", { pdf: toBase64(await current()), policy: "issued" });
  const labels = { valid: ["hợp lệ", "ok"], unknown: ["chưa xác định", "unknown"], invalid: ["không hợp lệ", "bad"] };
  const body = $("report").querySelector("tbody");
  body.innerHTML = "";
  for (const s of report.signatures) {
    const row = body.insertRow();
    const [text, cls] = labels[s.verdict];
    for (const cell of [s.field, s.signer ?? "?", s.kind === "organization" ? "tổ chức" : "cá nhân", text]) row.insertCell().textContent = cell;
    row.cells[3].className = cls;
  }
  $("report").hidden = false;
  show(report.policy?.met ? "Đủ điều kiện văn bản phát hành." : "Không đủ điều kiện: " + (report.policy?.missing ?? []).join("; "),
    report.policy?.met ? "ok" : "bad");
}));
