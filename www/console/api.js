// The reference API from the browser: `POST /` with `X-TC-Action`, signed with
// TC3-HMAC-SHA256 when signed in (Web Crypto; on pages without it — plain HTTP on a
// non-loopback address — sha256.js). The SecretKey stays in this tab's session storage;
// only the signature goes to the server.
import { sha256 as sha256Js, hmacSha256 } from "./sha256.js";

const VERSION = "2018-08-01";
const SERVICE = "live";
const STORE = "liverec.console.credentials";
const CONTENT_TYPE = "application/json; charset=utf-8";

/** An error the API answered with: `code` is the reference's (`AuthFailure.…`). */
export class ApiError extends Error {
  constructor(code, message, requestId) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.requestId = requestId;
  }
}

/** The credentials signed in with in this tab, or null. */
export function credentials() {
  const text = sessionStorage.getItem(STORE);
  return text ? JSON.parse(text) : null;
}

export function signIn(secretId, secretKey) {
  sessionStorage.setItem(STORE, JSON.stringify({ secretId, secretKey }));
}

export function signOut() {
  sessionStorage.removeItem(STORE);
}

const encoder = new TextEncoder();
const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");

/** Digests with Web Crypto when the page has it, else in plain JS. */
function digests(subtle) {
  if (!subtle) {
    return {
      sha256: async (text) => hex(sha256Js(encoder.encode(text))),
      hmac: async (key, text) => hmacSha256(typeof key === "string" ? encoder.encode(key) : new Uint8Array(key), encoder.encode(text)),
    };
  }
  return {
    sha256: async (text) => hex(await subtle.digest("SHA-256", encoder.encode(text))),
    hmac: async (key, text) => {
      const raw = typeof key === "string" ? encoder.encode(key) : key;
      const k = await subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      return subtle.sign("HMAC", k, encoder.encode(text));
    },
  };
}

/**
 * The `Authorization` header of a POST of `body` to `host` at `timestamp` (Unix s);
 * `subtle` is Web Crypto's (null: the plain-JS digests).
 */
export async function authorization({ secretId, secretKey }, host, body, timestamp, subtle = globalThis.crypto?.subtle) {
  const { sha256, hmac } = digests(subtle);
  const date = new Date(timestamp * 1000).toISOString().slice(0, 10);
  const signed = "content-type;host";
  const canonical = `POST\n/\n\ncontent-type:${CONTENT_TYPE}\nhost:${host}\n\n${signed}\n${await sha256(body)}`;
  const scope = `${date}/${SERVICE}/tc3_request`;
  const toSign = `TC3-HMAC-SHA256\n${timestamp}\n${scope}\n${await sha256(canonical)}`;
  const kDate = await hmac(`TC3${secretKey}`, date);
  const kService = await hmac(kDate, SERVICE);
  const kSigning = await hmac(kService, "tc3_request");
  const signature = hex(await hmac(kSigning, toSign));
  return `TC3-HMAC-SHA256 Credential=${secretId}/${scope}, SignedHeaders=${signed}, Signature=${signature}`;
}

/** Calls `action`; resolves to its `Response` fields, or rejects with an ApiError. */
export async function call(action, params = {}) {
  const body = JSON.stringify(params);
  const headers = { "Content-Type": CONTENT_TYPE, "X-TC-Action": action, "X-TC-Version": VERSION };
  const signedIn = credentials();
  if (signedIn) {
    const timestamp = Math.floor(Date.now() / 1000);
    headers["X-TC-Timestamp"] = String(timestamp);
    headers.Authorization = await authorization(signedIn, location.host, body, timestamp);
  }
  const response = await fetch("/", { method: "POST", headers, body, credentials: "omit", cache: "no-store" });
  const json = await response.json();
  const answer = json.Response ?? {};
  if (answer.Error) throw new ApiError(answer.Error.Code, answer.Error.Message, answer.RequestId);
  return answer;
}

/** Whether `error` means "sign in" (or sign in again). */
export function needsSignIn(error) {
  return error instanceof ApiError && error.code.startsWith("AuthFailure.");
}
