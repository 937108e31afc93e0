// Calls to the twin's API: the bearer token on each, one retry after a refresh when the token is
// refused, and the envelope unwrapped. Errors carry the API's code and message for the page.
import { accessToken, forget, refresh, session } from "./session.js";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status; this.code = code; this.details = details || {};
  }
}

async function send(path, options = {}, retried = false) {
  const headers = new Headers(options.headers || {});
  const token = await accessToken();
  if (token) headers.set("Authorization", `Bearer ${token}`);
  if (options.json !== undefined) {
    headers.set("Content-Type", "application/json");
    options = { ...options, body: JSON.stringify(options.json) };
  }
  let response;
  try {
    response = await fetch(path, { ...options, headers });
  } catch (e) {
    throw new ApiError(0, "OFFLINE", "the twin cannot be reached: check the connection");
  }
  if (response.status === 401 && token && !retried && session()) {
    try { await refresh(); } catch { forget("expired"); throw new ApiError(401, "UNAUTHORIZED", "the session has ended: sign in again"); }
    return send(path, options, true);
  }
  return response;
}

async function unwrap(response) {
  const body = await response.json().catch(() => null);
  if (body && body.success) return body.data;
  const err = body && body.error ? body.error : { code: "HTTP_" + response.status, message: response.statusText || "request failed" };
  throw new ApiError(response.status, err.code, err.message, err.details);
}

export async function get(path) { return unwrap(await send(path)); }
export async function post(path, json) { return unwrap(await send(path, { method: "POST", json })); }
export async function patch(path, json) { return unwrap(await send(path, { method: "PATCH", json })); }
export async function del(path) { return unwrap(await send(path, { method: "DELETE" })); }

/** A binary answer (the map, its levels) with its headers (the levels' version is one). */
export async function getBinary(path) {
  const response = await send(path);
  if (!response.ok) return unwrap(response);
  return { bytes: await response.arrayBuffer(), headers: response.headers };
}

/** A download (CSV, PDF) as a Blob, with the file name the API suggests. */
export async function download(path) {
  const response = await send(path);
  if (!response.ok) return unwrap(response);
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename="?([^";]+)"?/.exec(disposition);
  return { blob: await response.blob(), filename: match ? match[1] : "download" };
}

/** The raw response (for ingest, whose 422 still carries each event's result). */
export async function postRaw(path, json) {
  const response = await send(path, { method: "POST", json });
  const body = await response.json().catch(() => null);
  return { status: response.status, body };
}
