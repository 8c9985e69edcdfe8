/**
 * Kyso web SDK: lets a DMS page sign with the user's USB token through the local Kyso agent
 * (https://127.0.0.1:47400). The page sends a digest prepared by the DMS server and gets back a
 * CMS signature; the PIN is typed in the agent's own dialog, never in the page. No runtime
 * dependencies.
 */

import type { components } from "./generated/api.js";
import { MESSAGES, type ErrorCode } from "./generated/messages.js";

export { MESSAGES, type ErrorCode };

/** The wire types of API v1, generated from the agent's OpenAPI document. */
type Schemas = components["schemas"];

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
export type DocumentInfo = Schemas["Document"];

/** What `sign` takes: the wire request, with SHA-256 and the `cms` format by default. Pass the
 * DMS server's `ticket` (from your server, or the bridge's `prepare` with `ticket`) when the
 * agency's policy attests your origin: the agent then shows the ticket's title and number as
 * confirmed by the DMS, and refuses a request without one where the policy requires it. */
export type SignRequest = Omit<Schemas["SignRequest"], "digest" | "digestAlgorithm" | "format" | "signedAttributes"> & {
  /** Base64 digest of the PDF's ByteRange, from the DMS server. */
  digest: string;
  digestAlgorithm?: Schemas["DigestAlgorithm"];
};

/** One document of a batch: its digest, what it is and, where the policy attests the origin,
 * the DMS server's ticket for it. */
export type BatchItem = Pick<Schemas["BatchItem"], "document" | "ticket"> & { digest: string };

/** Revocation data (base64 DER) the agent checked before signing: store it in the PDF's
 * document security store (PAdES B-LT) with the bridge's `/v1/embed` `revocation`. */
export type RevocationEvidence = Schemas["RevocationEvidence"];

/** A signature, its certificate and chain, and what the agent checked before signing. The
 * SDK always asks for the `cms` format, so `cms` is there. */
export type SignResult = Omit<Schemas["SignResponse"], "cms"> & { cms: string };

/** A signing certificate as the agent lists it. */
export type Certificate = Schemas["CertificateDto"];

/** A token as `GET /v1/status` lists it. */
export type TokenInfo = Schemas["TokenDto"];

/** The agent, its tokens and certificates. */
export type Status = Schemas["StatusResponse"];

/** One item of a batch: a signature or an error. */
export type BatchResult = SignResult | Schemas["ErrorResponse"];

/** What every call takes: the page's own `AbortSignal` (a "Cancel" button, a route change)
 * and a time limit in milliseconds. */
export interface CallOptions {
  signal?: AbortSignal;
  /** Default: 10 s for reads, 5 min for `sign` (the user types a PIN), 30 min for a batch. */
  timeoutMs?: number;
}

export type KysoEvent = "tokenInserted" | "tokenRemoved" | "pinLocked" | "certificateExpiring";

export interface ConnectOptions {
  /** Agent ports to try in order, the first that answers for this user wins (default
   * `DEFAULT_PORTS`, 47400–47409: a terminal server gives each user the next free one). */
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

const READ_TIMEOUT_MS = 10_000;
const SIGN_TIMEOUT_MS = 5 * 60_000;
const BATCH_TIMEOUT_MS = 30 * 60_000;

/** One signal for a call: the caller's, or the time limit, whichever comes first. */
function limit(options: CallOptions, defaultTimeoutMs: number): { signal: AbortSignal; stop: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new KysoError("TIMEOUT")), options.timeoutMs ?? defaultTimeoutMs);
  const forward = () => controller.abort(options.signal?.reason);
  if (options.signal?.aborted) forward();
  else options.signal?.addEventListener("abort", forward, { once: true });
  return {
    signal: controller.signal,
    stop: () => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", forward);
    },
  };
}

/** `TIMEOUT` when the time limit ended the call, `ABORTED` when the page did. */
function aborted(options: CallOptions, lang: "vi" | "en"): KysoError {
  const byPage = options.signal?.aborted === true;
  return new KysoError(byPage ? "ABORTED" : "TIMEOUT", { lang });
}

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
    // The agent answers its plain-HTTP probe on its own port (it tells TLS from HTTP by the
    // first byte), and only to the sites it serves.
    const probe = await fetchImpl(`http://127.0.0.1:${port}/probe`, { method: "GET" });
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

  private async call<T>(method: "GET" | "POST", path: string, body: unknown, options: CallOptions, defaultTimeoutMs: number): Promise<T> {
    const { signal, stop } = limit(options, defaultTimeoutMs);
    try {
      let reply: Response;
      try {
        reply = await this.fetchImpl(this.base + path, {
          method,
          headers: body === undefined ? { "Accept-Language": this.lang } : { "Content-Type": "application/json", "Accept-Language": this.lang },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal,
        });
      } catch {
        if (signal.aborted) throw aborted(options, this.lang);
        throw await unreachable(Number(new URL(this.base).port), this.fetchImpl, this.lang);
      }
      const json = await reply.json().catch(() => null);
      if (signal.aborted) throw aborted(options, this.lang);
      if (!reply.ok) throw errorFromBody(json, this.lang);
      return json as T;
    } finally {
      stop();
    }
  }

  /** Agent version, tokens and certificates. */
  status(options: CallOptions = {}): Promise<Status> {
    return this.call("GET", "/v1/status", undefined, options, READ_TIMEOUT_MS);
  }

  /** Signing certificates, optionally only personal or organisation ones. */
  async certificates(options: { kind?: "personal" | "organization" } & CallOptions = {}): Promise<Certificate[]> {
    const query = options.kind ? `?kind=${options.kind}` : "";
    return (await this.call<{ certificates: Certificate[] }>("GET", `/v1/certificates${query}`, undefined, options, READ_TIMEOUT_MS)).certificates;
  }

  /** Signs one digest; the agent asks the PIN in its own dialog. */
  sign(request: SignRequest, options: CallOptions = {}): Promise<SignResult> {
    return this.call("POST", "/v1/sign", { digestAlgorithm: "SHA-256", format: "cms", ...request }, options, SIGN_TIMEOUT_MS);
  }

  /** Signs several digests with one certificate, one confirmation and one PIN. */
  async signBatch(
    request: { certificateId: string; digestAlgorithm?: SignRequest["digestAlgorithm"]; items: BatchItem[] },
    options: CallOptions = {},
  ): Promise<BatchResult[]> {
    const body = { digestAlgorithm: "SHA-256", format: "cms", ...request };
    const reply = await this.call<{ results: BatchResult[] }>("POST", "/v1/sign/batch", body, options, BATCH_TIMEOUT_MS);
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

/** The ports each user's agent may take, in order (a terminal server gives the second user the
 * next free one): the agent's default range. */
export const DEFAULT_PORTS: number[] = Array.from({ length: 10 }, (_, i) => 47400 + i);

/** Finds this user's agent (the first port of `ports` that answers) and checks it speaks API v1. */
export async function connect(options: ConnectOptions = {}): Promise<Kyso> {
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  const lang = options.lang ?? "vi";
  const ports = options.ports ?? DEFAULT_PORTS;
  // Why no agent was reached, the most useful reason first: a browser block or an untrusted
  // certificate says more than "not running" (another user's agent on a shared terminal server
  // closes the connection, which reads as not running, and the next port is tried).
  const rank = ["LOCAL_NETWORK_BLOCKED", "CERTIFICATE_NOT_TRUSTED", "AGENT_NOT_RUNNING"];
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
      const why = await unreachable(port, fetchImpl, lang);
      if (rank.indexOf(why.code) < rank.indexOf(last.code)) last = why;
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
