/**
 * Kyso web SDK: lets a DMS page sign with the user's USB token through the local Kyso agent
 * (https://127.0.0.1:47400). The page sends a digest prepared by the DMS server and gets back a
 * CMS signature; the PIN is typed in the agent's own dialog, never in the page. No runtime
 * dependencies.
 */

/** Stable error codes: the agent's, plus those only the page can see. */
export type ErrorCode =
  | "AGENT_NOT_RUNNING"
  | "CERTIFICATE_NOT_TRUSTED"
  | "LOCAL_NETWORK_BLOCKED"
  | "API_VERSION_UNSUPPORTED"
  | "ORIGIN_NOT_ALLOWED"
  | "USER_CANCELLED"
  | "TIMEOUT"
  | "TOKEN_NOT_PRESENT"
  | "PIN_INCORRECT"
  | "PIN_LOCKED"
  | "CERTIFICATE_NOT_FOUND"
  | "CERTIFICATE_NOT_VALID"
  | "CERTIFICATE_REVOKED"
  | "REVOCATION_UNAVAILABLE"
  | "BAD_REQUEST"
  | "BUSY"
  | "PDF_MALFORMED"
  | "LIMIT_EXCEEDED"
  | "INTERNAL";

/** Vietnamese and English message for every code, for the page to show. */
export const MESSAGES: Record<ErrorCode, { vi: string; en: string }> = {
  AGENT_NOT_RUNNING: {
    vi: "Chưa chạy phần mềm ký số Kyso trên máy này. Hãy cài đặt hoặc khởi động Kyso.",
    en: "The Kyso signing agent is not running on this computer. Install or start Kyso.",
  },
  CERTIFICATE_NOT_TRUSTED: {
    vi: "Trình duyệt chưa tin cậy Kyso. Chạy \"kyso trust install\" hoặc liên hệ bộ phận CNTT.",
    en: "The browser does not trust Kyso yet. Run \"kyso trust install\" or contact IT.",
  },
  LOCAL_NETWORK_BLOCKED: {
    vi: "Trình duyệt đang chặn trang này kết nối tới Kyso. Hãy cho phép truy cập mạng cục bộ (Local network) cho trang.",
    en: "The browser blocks this page from reaching Kyso. Allow local network access for this site.",
  },
  API_VERSION_UNSUPPORTED: {
    vi: "Phiên bản Kyso trên máy không tương thích. Hãy cập nhật Kyso.",
    en: "The installed Kyso version is not compatible. Update Kyso.",
  },
  ORIGIN_NOT_ALLOWED: {
    vi: "Trang web này chưa được phép dùng chữ ký số. Hãy liên hệ bộ phận CNTT.",
    en: "This website is not allowed to use digital signing. Contact your IT staff.",
  },
  USER_CANCELLED: { vi: "Người dùng đã hủy thao tác ký.", en: "Signing was cancelled." },
  TIMEOUT: { vi: "Hết thời gian chờ. Vui lòng thử lại.", en: "The operation timed out. Please try again." },
  TOKEN_NOT_PRESENT: {
    vi: "Chưa cắm thiết bị ký số (USB token). Hãy cắm token rồi thử lại.",
    en: "The USB token is not plugged in. Insert it and try again.",
  },
  PIN_INCORRECT: { vi: "Mã PIN không đúng.", en: "The PIN is incorrect." },
  PIN_LOCKED: {
    vi: "Mã PIN đã bị khóa. Hãy liên hệ đơn vị cấp chứng thư số để mở khóa.",
    en: "The PIN is locked. Ask the certificate issuer to unlock the token.",
  },
  CERTIFICATE_NOT_FOUND: {
    vi: "Không tìm thấy chứng thư số trên thiết bị.",
    en: "The certificate was not found on any token.",
  },
  CERTIFICATE_NOT_VALID: {
    vi: "Chứng thư số đã hết hạn hoặc chưa có hiệu lực.",
    en: "The certificate is expired or not yet valid.",
  },
  CERTIFICATE_REVOKED: {
    vi: "Chứng thư số đã bị thu hồi (hoặc chứng thư của CA cấp nó đã bị thu hồi). Không thể ký; hãy liên hệ đơn vị cấp chứng thư số.",
    en: "The certificate (or its CA's certificate) is revoked. Signing is refused; contact the certificate issuer.",
  },
  REVOCATION_UNAVAILABLE: {
    vi: "Không kiểm tra được trạng thái thu hồi của chứng thư số (OCSP/CRL không trả lời) và chính sách bắt buộc kiểm tra. Hãy kiểm tra kết nối mạng rồi thử lại.",
    en: "The certificate's revocation status could not be checked (no OCSP/CRL answer) and the policy requires it. Check the network and try again.",
  },
  BAD_REQUEST: { vi: "Yêu cầu không hợp lệ.", en: "The request is invalid." },
  BUSY: { vi: "Thiết bị ký số đang bận với một thao tác khác.", en: "The token is busy with another operation." },
  PDF_MALFORMED: { vi: "Tệp PDF bị hỏng hoặc không phải PDF.", en: "The PDF is damaged or not a PDF." },
  LIMIT_EXCEEDED: { vi: "Dữ liệu vượt quá giới hạn an toàn.", en: "The input exceeds a safety limit." },
  INTERNAL: { vi: "Lỗi hệ thống. Xem nhật ký của Kyso.", en: "Internal error. See the Kyso log." },
};

const AGENT_CODES = new Set<string>(Object.keys(MESSAGES));

/** An error with a stable code; `message` is in the connection's language. */
export class KysoError extends Error {
  readonly code: ErrorCode;
  readonly retriesLeft?: number;
  readonly messageVi: string;
  readonly messageEn: string;

  constructor(code: ErrorCode, options: { message?: string; retriesLeft?: number; lang?: "vi" | "en" } = {}) {
    const known = MESSAGES[code];
    const lang = options.lang ?? "vi";
    super(options.message ?? (lang === "en" ? known.en : known.vi));
    this.name = "KysoError";
    this.code = code;
    this.retriesLeft = options.retriesLeft;
    this.messageVi = known.vi;
    this.messageEn = known.en;
  }
}

/** What the document is, shown in the agent's PIN dialog. */
export interface DocumentInfo {
  title: string;
  number?: string;
  purpose: "approve" | "issue" | "appendix" | "copy" | "incoming";
}

export interface SignRequest {
  certificateId: string;
  /** Base64 digest of the PDF's ByteRange, from the DMS server. */
  digest: string;
  digestAlgorithm?: "SHA-256" | "SHA-384" | "SHA-512";
  document: DocumentInfo;
}

/** Revocation data (base64 DER) the agent checked before signing: store it in the PDF's
 * document security store (PAdES B-LT) with the bridge's `/v1/embed` `revocation`. */
export interface RevocationEvidence {
  ocsp: string[];
  crl: string[];
}

export interface SignResult {
  cms?: string;
  signature: string;
  signatureAlgorithm: string;
  certificate: string;
  /** The certificates above the signer, issuer first (base64 DER). */
  chain: string[];
  /** What the agent checked before signing (absent when the policy turns the check off). */
  revocation?: RevocationEvidence;
  /** `good`; `unknown` (not determinable: the signer was warned); `notChecked` (policy off). */
  revocationStatus?: "good" | "unknown" | "notChecked";
}

export interface Certificate {
  id: string;
  subject: string;
  holder: string;
  organization?: string;
  email?: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  validity: "valid" | "expired" | "notYetValid";
  daysLeft: number;
  keyAlgorithm: string;
  kind: "personal" | "organization";
  token: { label: string; serial: string; present: boolean };
  certificate: string;
  chain: string[];
}

/** A token as `GET /v1/status` lists it. */
export interface TokenInfo {
  label: string;
  model: string;
  manufacturer: string;
  serial: string;
  present: boolean;
  pinState: "ok" | "countLow" | "finalTry" | "locked";
  retriesLeft?: number;
  /** Pin-pad reader: the PIN is typed on the device. */
  protectedAuthPath: boolean;
  /** The PKCS#11 module that serves it. */
  module: string;
  /** Ids of the signing certificates on it. */
  certificates: string[];
}

export interface Status {
  agentVersion: string;
  apiVersion: number;
  tokens: TokenInfo[];
  certificates: Certificate[];
}

export type BatchResult = SignResult | { error: { code: ErrorCode; message: string; retriesLeft?: number } };

export type KysoEvent = "tokenInserted" | "tokenRemoved" | "pinLocked" | "certificateExpiring";

export interface ConnectOptions {
  /** Agent ports to try, first that answers wins (default [47400]). */
  ports?: number[];
  /** Language of error messages (default "vi"). */
  lang?: "vi" | "en";
  /** Milliseconds for finding the agent (default 3000). */
  timeoutMs?: number;
  /** fetch implementation (tests). */
  fetch?: typeof fetch;
}

/** The API version this SDK speaks. */
export const API_VERSION = 1;

/** Maps an agent error body to a KysoError. */
export function errorFromBody(body: unknown, lang: "vi" | "en" = "vi"): KysoError {
  const error = (body as { error?: { code?: string; message?: string; retriesLeft?: number } } | null)?.error;
  const code = error?.code && AGENT_CODES.has(error.code) ? (error.code as ErrorCode) : "INTERNAL";
  return new KysoError(code, { message: error?.message, retriesLeft: error?.retriesLeft, lang });
}

async function localNetworkDenied(): Promise<boolean> {
  const permissions = (globalThis as { navigator?: { permissions?: { query(d: { name: string }): Promise<{ state: string }> } } })
    .navigator?.permissions;
  if (!permissions) return false;
  for (const name of ["loopback-network", "local-network-access"]) {
    try {
      if ((await permissions.query({ name })).state === "denied") return true;
    } catch {
      // Unknown permission name in this browser.
    }
  }
  return false;
}

/**
 * Tells apart why the agent could not be reached: the browser's Local Network Access
 * permission, an agent that answers on its plain-HTTP probe port (so its certificate is not
 * trusted), or no agent at all.
 */
async function unreachable(port: number, fetchImpl: typeof fetch, lang: "vi" | "en"): Promise<KysoError> {
  if (await localNetworkDenied()) return new KysoError("LOCAL_NETWORK_BLOCKED", { lang });
  try {
    const probe = await fetchImpl(`http://127.0.0.1:${port + 1}/probe`, { method: "GET" });
    if (probe.status === 204) return new KysoError("CERTIFICATE_NOT_TRUSTED", { lang });
  } catch {
    // Not running.
  }
  return new KysoError("AGENT_NOT_RUNNING", { lang });
}

/** A connection to the local agent. */
export class Kyso {
  readonly base: string;
  readonly status0: Status;
  private readonly fetchImpl: typeof fetch;
  private readonly lang: "vi" | "en";
  private source?: EventSource;

  constructor(base: string, status: Status, fetchImpl: typeof fetch, lang: "vi" | "en") {
    this.base = base;
    this.status0 = status;
    this.fetchImpl = fetchImpl;
    this.lang = lang;
  }

  private async call<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    let reply: Response;
    try {
      reply = await this.fetchImpl(this.base + path, {
        method,
        headers: body === undefined ? { "Accept-Language": this.lang } : { "Content-Type": "application/json", "Accept-Language": this.lang },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw await unreachable(Number(new URL(this.base).port), this.fetchImpl, this.lang);
    }
    const json = await reply.json().catch(() => null);
    if (!reply.ok) throw errorFromBody(json, this.lang);
    return json as T;
  }

  /** Agent version, tokens and certificates. */
  status(): Promise<Status> {
    return this.call("GET", "/v1/status");
  }

  /** Signing certificates, optionally only personal or organisation ones. */
  async certificates(options: { kind?: "personal" | "organization" } = {}): Promise<Certificate[]> {
    const query = options.kind ? `?kind=${options.kind}` : "";
    return (await this.call<{ certificates: Certificate[] }>("GET", `/v1/certificates${query}`)).certificates;
  }

  /** Signs one digest; the agent asks the PIN in its own dialog. */
  sign(request: SignRequest): Promise<SignResult> {
    return this.call("POST", "/v1/sign", { digestAlgorithm: "SHA-256", format: "cms", ...request });
  }

  /** Signs several digests with one certificate, one confirmation and one PIN. */
  async signBatch(request: { certificateId: string; digestAlgorithm?: SignRequest["digestAlgorithm"]; items: Array<{ digest: string; document: DocumentInfo }> }): Promise<BatchResult[]> {
    const reply = await this.call<{ results: BatchResult[] }>("POST", "/v1/sign/batch", { digestAlgorithm: "SHA-256", format: "cms", ...request });
    return reply.results;
  }

  /** Listens to token events (inserted, removed, PIN locked, certificate expiring). */
  on(event: KysoEvent, handler: (data: unknown) => void): void {
    if (!this.source) this.source = new EventSource(`${this.base}/v1/events`);
    this.source.addEventListener(event, (e) => handler(JSON.parse((e as MessageEvent).data)));
  }

  /** Stops listening to events. */
  close(): void {
    this.source?.close();
    this.source = undefined;
  }
}

/** Finds the agent and checks it speaks API v1. */
export async function connect(options: ConnectOptions = {}): Promise<Kyso> {
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  const lang = options.lang ?? "vi";
  const ports = options.ports ?? [47400];
  let last: KysoError = new KysoError("AGENT_NOT_RUNNING", { lang });
  for (const port of ports) {
    const base = `https://127.0.0.1:${port}`;
    let reply: Response;
    try {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 3000);
      reply = await fetchImpl(`${base}/v1/status`, { headers: { "Accept-Language": lang }, signal: controller.signal });
      clearTimeout(timer);
    } catch {
      last = await unreachable(port, fetchImpl, lang);
      continue;
    }
    const body = await reply.json().catch(() => null);
    if (!reply.ok) throw errorFromBody(body, lang);
    if ((body as Status).apiVersion !== API_VERSION) throw new KysoError("API_VERSION_UNSUPPORTED", { lang });
    return new Kyso(base, body as Status, fetchImpl, lang);
  }
  throw last;
}

export { vgca } from "./vgca.js";
