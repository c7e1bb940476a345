// Shared helpers of the annotation pages (plain ES module, no build step).
//
// The server's Content-Security-Policy allows no inline code and no inline styles: the pages build
// their DOM with createElement, put every piece of user or model text in with textContent, and show
// or hide elements with the `hidden` attribute and classes.

/** A refused or failed API call: the HTTP status (0 when the server could not be reached) and the API's error code. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

let csrfToken;

async function csrf(refresh = false) {
  if (refresh) csrfToken = undefined;
  if (csrfToken === undefined) {
    const token = (await call("GET", "/api/csrf")).token;
    if (typeof token !== "string") throw new ApiError(0, "csrf", "the server sent no CSRF token");
    csrfToken = token;
  }
  return csrfToken;
}

const onLoginPage = () => location.pathname === "/" || location.pathname === "/index.html";

async function call(method, path, body, options = {}) {
  const headers = { accept: "application/json" };
  if (method === "POST") headers["x-csrf-token"] = await csrf();
  let payload;
  if (body !== undefined) {
    if (options.contentType !== undefined) {
      headers["content-type"] = options.contentType;
      payload = body;
    } else {
      headers["content-type"] = "application/json";
      payload = JSON.stringify(body);
    }
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  } catch {
    throw new ApiError(0, "network", "the server could not be reached: check the connection and try again");
  }
  const type = res.headers.get("content-type") ?? "";
  let data = null;
  if (res.status !== 204) {
    if (type.includes("application/json")) {
      try {
        data = await res.json();
      } catch {
        data = null;
      }
    } else {
      data = await res.text();
    }
  }
  if (!res.ok) {
    const code = data !== null && typeof data === "object" && typeof data.error === "string" ? data.error : "error";
    const message = data !== null && typeof data === "object" && typeof data.message === "string" ? data.message : `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, code, message);
  }
  return data;
}

/**
 * One API call: a JSON body (or, with `options.contentType`, the body as is), the session cookie,
 * and on a POST the CSRF token (fetched once from GET /api/csrf; on a `csrf` refusal fetched again
 * and the call retried once). A 401 sends the browser to the login page, except on that page.
 *
 * @returns the parsed JSON body, the text of any other body, or null for 204.
 * @throws {ApiError} for a status ≥ 400 or a network failure (status 0).
 */
export async function api(method, path, body, options = {}) {
  try {
    try {
      return await call(method, path, body, options);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 403 || e.code !== "csrf" || method !== "POST") throw e;
      await csrf(true);
      return await call(method, path, body, options);
    }
  } catch (e) {
    if (e instanceof ApiError && e.status === 401 && !onLoginPage()) location.assign("/");
    throw e;
  }
}

/** A fresh id for one request (a vote): randomUUID where the context is secure, else 16 random bytes in hex. */
export function requestId() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * An element: `attrs` set as attributes (`class`, `id`, `data-*`, ...; `true` for a bare
 * attribute; null/false/undefined skipped), children appended (strings as text nodes).
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    node.append(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return node;
}

/** Show `text` in a status element (kind "error", "ok" or "info"); an empty text hides it. */
export function showStatus(node, text, kind = "error") {
  node.textContent = text;
  node.classList.remove("error", "ok", "info");
  node.classList.add(kind);
  node.hidden = text === "";
}

/** The message to show for an error thrown by {@link api} (or anything else). */
export function errorText(e) {
  if (e instanceof ApiError) return e.message;
  return e instanceof Error ? e.message : String(e);
}

/** Wire a Logout button: POST /api/logout, then the login page. */
export function setupLogout(button, status) {
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await api("POST", "/api/logout");
      location.assign("/");
    } catch (e) {
      button.disabled = false;
      if (!(e instanceof ApiError && e.status === 401)) showStatus(status, errorText(e));
    }
  });
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
