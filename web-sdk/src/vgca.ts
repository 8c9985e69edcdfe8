/**
 * A compatibility layer for DMS pages written for the Ban Cơ yếu "VGCA Sign Service" plugin:
 * the same `vgca_sign_*` function names and callback shape (a JSON string with `Status`,
 * `Message`, `FileName`, `FileServer`). The difference is where the file goes: here the page
 * downloads the PDF and uploads the result with its own credentials, the DMS's Kyso bridge
 * prepares and embeds, and the agent only signs a digest, so the agent never sees a cookie or
 * a token of the DMS.
 */
import { connect, KysoError, type ConnectOptions, type DocumentInfo } from "./kyso.js";

export interface VgcaConfig {
  /** The DMS's Kyso bridge (kyso bridge), e.g. "/kyso-bridge". */
  bridge: string;
  /** How to find the agent. */
  agent?: ConnectOptions;
  /** Chooses the certificate for a role (default: the first valid one of the right kind). */
  chooseCertificate?: (kind: "personal" | "organization") => Promise<string | undefined>;
  /** Signature image (approve) or seal (issue) as base64 PNG, per role. */
  image?: (role: string) => Promise<string | undefined>;
  fetch?: typeof fetch;
}

interface VgcaRequest {
  FileName?: string;
  FileUploadHandler?: string;
  DocNumber?: string;
  IssuedDate?: string;
  MetaData?: Array<{ Key: string; Value: string }>;
}

type Callback = (result: string) => void;

let config: VgcaConfig | undefined;

function toBase64(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

async function run(role: "approve" | "issue" | "appendix" | "copy" | "incoming", json: string, callback: Callback): Promise<void> {
  const fetchImpl = config?.fetch ?? globalThis.fetch.bind(globalThis);
  try {
    if (!config) throw new Error("vgca.configure({ bridge }) first");
    const request = JSON.parse(json) as VgcaRequest;
    if (!request.FileName) throw new Error("FileName (the PDF's URL) is required");
    const kind = role === "approve" ? "personal" : "organization";
    const agent = await connect(config.agent);
    const certificateId =
      (await config.chooseCertificate?.(kind)) ??
      (await agent.certificates({ kind })).find((c) => c.validity === "valid" && c.token.present)?.id;
    if (!certificateId) throw new KysoError("CERTIFICATE_NOT_FOUND");
    const certificate = (await agent.certificates()).find((c) => c.id === certificateId);
    const pdf = new Uint8Array(await (await fetchImpl(request.FileName, { credentials: "include" })).arrayBuffer());
    const prepared = await (
      await fetchImpl(`${config.bridge}/v1/prepare`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "include",
        body: JSON.stringify({
          pdf: toBase64(pdf),
          role,
          certificate: certificate?.certificate,
          image: await config.image?.(role),
          // The bridge refuses an option the role cannot use: the number and the date go to the
          // roles that write them.
          ...(["issue", "appendix", "incoming"].includes(role) && request.DocNumber ? { number: request.DocNumber } : {}),
          ...(["issue", "incoming"].includes(role) && request.IssuedDate ? { date: request.IssuedDate } : {}),
        }),
      })
    ).json();
    if (prepared.error) throw new Error(prepared.error.message);
    const document: DocumentInfo = { title: request.FileName.split("/").pop() ?? "văn bản", number: request.DocNumber, purpose: role };
    const signed = await agent.sign({ certificateId, digest: prepared.digest, document });
    const embedded = await (
      await fetchImpl(`${config.bridge}/v1/embed`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "include",
        body: JSON.stringify({ prepared: prepared.prepared, cms: signed.cms }),
      })
    ).json();
    if (embedded.error) throw new Error(embedded.error.message);
    let server = "";
    if (request.FileUploadHandler) {
      const form = new FormData();
      form.append("file", new Blob([fromBase64(embedded.signed) as BlobPart], { type: "application/pdf" }), document.title);
      server = await (await fetchImpl(request.FileUploadHandler, { method: "POST", body: form, credentials: "include" })).text();
    }
    callback(
      JSON.stringify({
        Status: 0,
        Message: "",
        FileName: document.title,
        FileServer: server,
        DocumentNumber: request.DocNumber ?? "",
        DocumentDate: request.IssuedDate ?? "",
        SignedFile: embedded.signed,
      }),
    );
  } catch (error) {
    const code = error instanceof KysoError ? error.code : "INTERNAL";
    callback(JSON.stringify({ Status: 1, Code: code, Message: (error as Error).message }));
  }
}

/** The VGCA-compatible functions; `install()` also puts them on `window` as the plugin did. */
export const vgca = {
  configure(options: VgcaConfig): void {
    config = options;
  },
  vgca_sign_approved: (json: string, cb: Callback) => void run("approve", json, cb),
  vgca_sign_issued: (json: string, cb: Callback) => void run("issue", json, cb),
  vgca_sign_appendix: (json: string, cb: Callback) => void run("appendix", json, cb),
  vgca_sign_copy: (json: string, cb: Callback) => void run("copy", json, cb),
  vgca_sign_income: (json: string, cb: Callback) => void run("incoming", json, cb),
  install(target: Record<string, unknown> = globalThis as unknown as Record<string, unknown>): void {
    for (const name of ["vgca_sign_approved", "vgca_sign_issued", "vgca_sign_appendix", "vgca_sign_copy", "vgca_sign_income"] as const) {
      target[name] = vgca[name];
    }
  },
};
