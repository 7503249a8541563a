// Calls to the same-origin API with the session cookie; state-changing calls carry the CSRF token.
export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `request failed (${status})`);
    this.status = status;
    this.code = error.code || "error";
    this.field = error.field;
    this.details = error;
  }
}

function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)cp_csrf=([^;]+)/);
  return m ? m[1] : "";
}

let onUnauthenticated = () => {};
export function setUnauthenticatedHandler(fn) { onUnauthenticated = fn; }

export async function api(method, path, body, { quiet401 = false } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = csrf();
  if (path === "/api/auth/login") headers["X-CostPilot-Session"] = "cookie";
  const response = await fetch(path, {
    method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const err = new ApiError(response.status, data);
    if (response.status === 401 && !quiet401) onUnauthenticated();
    throw err;
  }
  return data;
}

// A GET started before the page asks for it (the first screen's data, alongside /api/me): the page's
// own get() of the same path within a few seconds takes it over, once.
const prefetched = new Map();
const PREFETCH_FRESH_MS = 10000;
export function prefetch(path) {
  if (prefetched.has(path)) return;
  const p = api("GET", path, undefined, { quiet401: true });
  p.catch(() => {}); // whoever takes it over handles its error; never an unhandled rejection
  prefetched.set(path, { p, at: Date.now() });
}

export const get = (path, opts) => {
  const early = prefetched.get(path);
  prefetched.delete(path);
  if (!early || Date.now() - early.at > PREFETCH_FRESH_MS) return api("GET", path, undefined, opts);
  return early.p.catch((e) => { if (e.status === 401 && !(opts && opts.quiet401)) onUnauthenticated(); throw e; });
};
export const post = (path, body) => api("POST", path, body ?? {});
export const patch = (path, body) => api("PATCH", path, body);
export const del = (path) => api("DELETE", path);
export const put = (path, body) => api("PUT", path, body);

export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") u.set(k, v);
  const s = u.toString();
  return s ? `?${s}` : "";
}

// A path segment: ids like "al_1:d2026-12-01:100" keep their colons (legal in a path, and API Gateway
// and the local server agree on them), everything else is percent-encoded.
export const seg = (id) => encodeURIComponent(id).replace(/%3A/gi, ":");
