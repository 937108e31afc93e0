// The application's frame: sign-in or the pages, hash routes, the header (who, language, alerts,
// sign-out), and what every page shares once per sign-in (the places and the map of the area).
import { ApiError, get, getBinary, post } from "./api.js";
import { forget, onSessionChange, session } from "./session.js";
import { onLangChange, relabel, setLang, lang, t } from "./i18n.js";
import { decodeMap } from "./map-data.js";
import { esc } from "./format.js";
import { AlertsDrawer } from "./alerts.js";
import * as login from "./pages/login.js";
import * as overview from "./pages/overview.js";
import * as school from "./pages/school.js";
import * as report from "./pages/report.js";
import * as finance from "./pages/finance.js";
import * as reports from "./pages/reports.js";
import * as scenarios from "./pages/scenarios.js";
import * as optimisation from "./pages/optimisation.js";
import * as register from "./pages/register.js";
import * as requests from "./pages/requests.js";

const main = document.getElementById("main");
const banner = document.getElementById("banner");
const connection = document.getElementById("connection");
let shared = null;       // {places, map} of the signed-in area
let cleanup = null;      // the current page's
let drawer = null;

const ROUTES = [
  [/^#\/?$/, (ctx) => overview.render(main, ctx, home(ctx))],
  [/^#\/district\/([^/]+)$/, (ctx, m) => overview.render(main, ctx, { kind: "district", district: m[1] })],
  [/^#\/block\/([^/]+)\/([^/]+)$/, (ctx, m) => overview.render(main, ctx, { kind: "block", district: m[1], block: m[2] })],
  [/^#\/school\/(\d{11})$/, (ctx, m) => school.render(main, ctx, m[1])],
  [/^#\/report$/, (ctx) => report.render(main, ctx)],
  [/^#\/finance$/, (ctx) => finance.render(main, ctx)],
  [/^#\/reports$/, (ctx) => reports.render(main, ctx)],
  [/^#\/scenarios$/, (ctx) => scenarios.render(main, ctx)],
  [/^#\/optimisation$/, (ctx) => optimisation.render(main, ctx)],
  [/^#\/requests$/, (ctx) => requests.render(main, ctx)],
];

function home(ctx) {
  const a = ctx.places.area;
  if (a.kind === "school") return { kind: "school-home" };
  if (a.kind === "block") return { kind: "block", district: a.district, block: a.block };
  if (a.kind === "district") return { kind: "district", district: a.district };
  return { kind: "state" };
}

function nav(user) {
  const links = [["#/", "nav.overview"]];
  if (user.role === "school_admin") links.push(["#/report", "nav.my_school"]);
  if (user.role !== "school_admin") links.push(["#/finance", "nav.finance"]);
  links.push(["#/reports", "nav.reports"]);
  if (user.role !== "school_admin") links.push(["#/scenarios", "nav.scenarios"], ["#/optimisation", "nav.optimisation"]);
  // officers decide the account requests of the roles below them (the API's accounts:approve)
  if (user.role !== "school_admin") links.push(["#/requests", "nav.requests"]);
  const el = document.getElementById("nav");
  el.innerHTML = links.map(([href, key]) => `<a href="${href}" data-i18n="${key}">${esc(t(key))}</a>`).join("");
  el.hidden = false;
}

function markCurrent() {
  for (const a of document.querySelectorAll("#nav a")) {
    const here = location.hash || "#/";
    const current = a.getAttribute("href") === "#/" ? !/^#\/(report|finance|reports|scenarios|optimisation|requests)/.test(here) : here.startsWith(a.getAttribute("href"));
    if (current) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
}

export function setConnection(state) {
  connection.hidden = false;
  connection.className = "connection" + (state === "live" ? "" : " down");
  connection.textContent = state === "live" ? t("conn.live") : t("conn.down");
  connection.dataset.state = state;
}

export function showBanner(message, kind = "error") {
  banner.textContent = message || "";
  banner.className = "banner" + (kind === "info" ? " info" : "");
  banner.hidden = !message;
}

/** The map of the area, with the version of the levels it holds (later levels reads ask for what changed since). */
async function loadMap() {
  const { bytes, headers } = await getBinary("/api/v1/dashboard/map");
  return Object.assign(decodeMap(bytes), { levelsVersion: headers.get("X-Levels-Version") });
}

async function loadShared() {
  const [places, map] = await Promise.all([get("/api/v1/dashboard/places"), loadMap()]);
  return { places, map };
}

/** Fetch the map again (a school added or deactivated changed the count). */
export async function reloadMap() {
  if (shared) shared.map = await loadMap();
  return shared && shared.map;
}

let routeNumber = 0;  // a page still loading when the reader moves on must not take over

async function route() {
  const mine = ++routeNumber;
  if (cleanup) { try { cleanup(); } catch { /* a page's teardown never blocks the next */ } cleanup = null; }
  const s = session();
  if (!s) { showSignedOut(); return; }
  markCurrent();
  main.innerHTML = `<p class="loading">${esc(t("common.loading"))}</p>`;
  try {
    if (!shared) shared = await loadShared();
    if (mine !== routeNumber) return;
    const ctx = { user: s.user, places: shared.places, map: shared.map, setConnection, showBanner, reloadMap,
                  navigate: (hash) => { location.hash = hash; } };
    const match = ROUTES.map(([re, f]) => [re.exec(location.hash || "#/"), f]).find(([m]) => m);
    const done = notForRole(s.user) ? notAllowed() : match ? await match[1](ctx, match[0].map((x) => (x ? decodeURIComponent(x) : x))) : notFound();
    if (mine !== routeNumber) { if (done) done(); return; }
    cleanup = done;
  } catch (e) {
    if (mine !== routeNumber) return;
    if (e instanceof ApiError && e.status === 401) return;  // the session ended: the sign-in page follows
    main.innerHTML = `<div class="card error" role="alert"><p>${esc(e.message)}</p><button type="button" id="retry">${esc(t("common.retry"))}</button></div>`;
    main.querySelector("#retry").onclick = () => route();
  }
}

// Pages of officers' work: a school admin reaching one by its address gets a notice, not controls
// the API would refuse (it cannot allocate, release, run scenarios or decide recommendations).
const OFFICER_PAGES = /^#\/(finance|scenarios|optimisation|requests)(\/|$)/;

function notForRole(user) {
  return user.role === "school_admin" && OFFICER_PAGES.test(location.hash);
}

function notAllowed() {
  main.innerHTML = `<div class="card" id="not-for-role"><p>${esc(t("common.not_for_role"))}</p><a href="#/">${esc(t("nav.overview"))}</a></div>`;
}

function notFound() {
  main.innerHTML = `<div class="card"><p>${esc(t("common.no_page"))}</p><a href="#/">${esc(t("nav.overview"))}</a></div>`;
}

function showSignedOut() {
  shared = null;
  if (drawer) { drawer.close(); drawer = null; }
  for (const id of ["nav", "who", "sign-out", "alerts-button", "connection"]) document.getElementById(id).hidden = true;
  const reason = sessionStorage.getItem("mealtwin.signed_out_reason");
  sessionStorage.removeItem("mealtwin.signed_out_reason");
  showBanner(reason === "expired" ? t("auth.expired") : "", "info");
  if (location.hash === "#/register") register.render(main); else login.render(main);
}

function showWho(u) {
  const who = document.getElementById("who");
  who.textContent = `${u.full_name} · ${t("role." + u.role)}${u.district ? " · " + [u.district, u.block, u.school_id].filter(Boolean).join(" / ") : ""}`;
  who.hidden = false;
}

function signedIn(s) {
  showBanner("");
  const u = s.user;
  showWho(u);
  document.getElementById("sign-out").hidden = false;
  nav(u);
  if (!drawer) drawer = new AlertsDrawer(document.getElementById("alerts-button"), document.getElementById("alerts-drawer"));
}

document.getElementById("sign-out").addEventListener("click", async () => {
  const s = session();
  try { if (s) await post("/api/v1/auth/logout", { refresh_token: s.refresh }); } catch { /* signed out locally all the same */ }
  history.replaceState(null, "", "#/");
  forget();  // the session's listeners show the sign-in page
  showBanner(t("auth.signed_out"), "info");
});

document.getElementById("language").addEventListener("click", () => setLang(lang() === "ta" ? "en" : "ta"));
onLangChange(() => {
  document.getElementById("language").textContent = lang() === "ta" ? "English" : "தமிழ்";
  document.getElementById("language").lang = lang() === "ta" ? "en" : "ta";
  if (session()) { showWho(session().user); route(); }
});

let signedInAs = session() && session().user.id;
onSessionChange((s) => {
  if (!s) { signedInAs = null; showSignedOut(); return; }
  if (s.user.id !== signedInAs) { signedInAs = s.user.id; shared = null; signedIn(s); route(); }
});

window.addEventListener("hashchange", route);
document.documentElement.lang = lang();
document.getElementById("language").textContent = lang() === "ta" ? "English" : "தமிழ்";
relabel(document);
if (session()) signedIn(session());
route();
