// Calls to the REST API (/v1), with the bearer token when there is one. The token lives in
// sessionStorage: it goes when the tab closes, and other sites cannot read it.

const TOKEN = "weir.token";
const PRINCIPAL = "weir.principal";

/** An error answer of the API: `{error: {code, message}}` with its HTTP status. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN);
}

export function principal() {
  return sessionStorage.getItem(PRINCIPAL);
}

export function logout() {
  sessionStorage.removeItem(TOKEN);
  sessionStorage.removeItem(PRINCIPAL);
}

/** Exchanges an access key for a token (POST /v1/auth/token) and keeps it. */
export async function login(accessKeyId, secretAccessKey) {
  const answer = await api("POST", "/v1/auth/token", {
    access_key_id: accessKeyId,
    secret_access_key: secretAccessKey,
  }, { anonymous: true });
  sessionStorage.setItem(TOKEN, answer.token);
  sessionStorage.setItem(PRINCIPAL, answer.principal);
  return answer;
}

/**
 * Calls the API. `body` is sent as JSON; the answer is parsed as JSON (null for 204).
 * A 401 forgets the token and sends the user to the login page.
 */
export async function api(method, path, body, options = {}) {
  const headers = { Accept: "application/json" };
  const bearer = token();
  if (bearer && !options.anonymous) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: options.signal,
    });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, "Unreachable", `The control plane did not answer (${e.message}).`);
  }
  if (options.raw) return response;
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data && data.error ? data.error : { code: "Error", message: text || response.statusText };
    if (response.status === 401 && !options.anonymous) {
      logout();
      window.dispatchEvent(new CustomEvent("weir:login-needed"));
    }
    throw new ApiError(response.status, error.code, error.message);
  }
  return data;
}

export const enc = encodeURIComponent;
