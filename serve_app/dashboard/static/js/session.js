// The signed-in session: tokens kept for this tab only (sessionStorage), refreshed before the
// access token expires, and revoked on sign-out. Refresh tokens are spent on use: one refresh at a
// time, shared by every caller that needs it, or the second would present a spent token and end
// the whole sign-in.

const KEY = "mealtwin.session";
const listeners = new Set();
let current = load();
let refreshing = null;
let timer = null;

function load() {
  try { return JSON.parse(sessionStorage.getItem(KEY)) || null; } catch { return null; }
}

function store(session) {
  current = session;
  if (session) sessionStorage.setItem(KEY, JSON.stringify(session));
  else sessionStorage.removeItem(KEY);
  schedule();
  for (const f of listeners) f(session);
}

function schedule() {
  clearTimeout(timer);
  if (!current) return;
  const wait = Math.max(5_000, current.expiresAt - Date.now() - 60_000);
  timer = setTimeout(() => refresh().catch(() => {}), wait);
}

export function session() { return current; }
export function onSessionChange(f) { listeners.add(f); return () => listeners.delete(f); }

/** The answer of /auth/login or /auth/refresh, kept. */
export function keep(data) {
  store({ access: data.access_token, refresh: data.refresh_token, user: data.user,
          expiresAt: Date.now() + data.expires_in * 1000 });
}

export function forget(reason) {
  store(null);
  if (reason) sessionStorage.setItem("mealtwin.signed_out_reason", reason);
}

/** A fresh access token (refreshing when it is near its end). Null when signed out. */
export async function accessToken() {
  if (!current) return null;
  if (current.expiresAt - Date.now() < 30_000) await refresh();
  return current ? current.access : null;
}

/** Spend the refresh token for new tokens; on refusal the session is over. */
export function refresh() {
  if (!current) return Promise.resolve(null);
  if (refreshing) return refreshing;
  const spent = current.refresh;
  refreshing = fetch("/api/v1/auth/refresh", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: spent }),
  }).then(async (r) => {
    const body = await r.json().catch(() => ({}));
    if (r.ok && body.success) { keep(body.data); return current; }
    if (r.status === 401 || r.status === 422) forget("expired");
    throw new Error(body.error ? body.error.message : `refresh failed (${r.status})`);
  }).finally(() => { refreshing = null; });
  return refreshing;
}

schedule();
