// Money of the caller's area for a financial year, by area: the state's districts, a district's
// blocks, a block's schools, each row opening the next level down (allocated by the norms,
// released, utilised, balance, and the release rules' flags, read from the twin's state by the
// finance API). State admins and district officers allocate the year and release instalments from
// here, inside their area; a release the rules refuse shows the API's reasons, rule by rule.
import { get, post } from "../api.js";
import { date, esc, inr, num, pct } from "../format.js";
import { t } from "../i18n.js";
import { save } from "./reports.js";

const READ = {
  state: () => "/api/v1/financial/state",
  district: (p) => `/api/v1/financial/districts/${encodeURIComponent(p.district)}`,
  block: (p) => `/api/v1/financial/blocks/${encodeURIComponent(p.block)}?district=${encodeURIComponent(p.district)}`,
  school: (p) => `/api/v1/financial/schools/${p.school_id}`,
};
const BELOW = { state: "district", district: "block", block: "school" };

/** Whether this reader allocates and releases: the API lets state admins and district officers, in their area. */
function mayAllocate(user, place) {
  if (user.role === "state_admin") return place.level !== "school";
  return user.role === "district_officer" && (place.level === "district" || place.level === "block");
}

function placeOfArea(area) {
  return { level: area.kind, district: area.district, block: area.block, school_id: area.school_id };
}

function label(place) {
  return place.level === "state" ? "Tamil Nadu" : place.level === "school" ? place.school_id : place.level === "block" ? place.block : place.district;
}

/** The area as the report and the allocation take it. */
function areaRef(place) {
  const ref = {};
  if (place.district) ref.district = place.district;
  if (place.block) ref.block = place.block;
  return ref;
}

export async function render(main, ctx) {
  const today = new Date();
  let year = today.getMonth() >= 3 ? today.getFullYear() : today.getFullYear() - 1;
  const trail = [placeOfArea(ctx.places.area)];  // from the reader's own area down to the place shown
  main.innerHTML = `<h1>${esc(t("finance.title"))}</h1>
    <form class="row" id="year-form"><label>${esc(t("finance.year"))}<input type="number" name="year" min="2000" max="2100" value="${year}" required></label><button type="submit">${esc(t("finance.show"))}</button></form>
    <nav class="crumbs" id="finance-trail" aria-label="Breadcrumb"></nav>
    <div id="finance-body" class="card loading">${esc(t("common.loading"))}</div>
    <div id="finance-outcome" role="status" class="card muted" hidden></div>
    <div id="finance-actions"></div>`;
  const body = main.querySelector("#finance-body");
  let reading = 0;  // a slower earlier read must not replace a later one

  const showTrail = () => {
    const el = main.querySelector("#finance-trail");
    el.innerHTML = trail.map((p, k) => (k < trail.length - 1 ? `<a href="#/finance" data-up="${k}">${esc(label(p))}</a>` : `<span aria-current="page">${esc(label(p))}</span>`)).join(" › ");
    el.querySelectorAll("[data-up]").forEach((a) => a.addEventListener("click", (e) => { e.preventDefault(); trail.length = Number(a.dataset.up) + 1; load(); }));
  };

  const load = async (keepOutcome = false) => {
    const mine = ++reading;
    if (!keepOutcome) main.querySelector("#finance-outcome").hidden = true;
    const place = trail[trail.length - 1];
    showTrail();
    body.className = "card loading"; body.textContent = t("common.loading");
    const url = READ[place.level](place);
    try {
      const f = await get(`${url}${url.includes("?") ? "&" : "?"}year=${year}`);
      if (mine !== reading || !document.getElementById("finance-body")) return;
      body.className = "card";
      body.innerHTML = summary(f, place) + partsTable(f, place);
      body.querySelectorAll("tr[data-part]").forEach((tr) => tr.addEventListener("click", (e) => {
        if (e.target.tagName === "A") e.preventDefault();
        trail.push(partPlace(place, tr.dataset.part)); load();
      }));
      body.querySelector("#finance-csv")?.addEventListener("click", () => {
        const area = place.level === "state" ? "state" : place.level === "district" ? `district:${place.district}` : `block:${place.district}/${place.block}`;
        save(`/api/v1/financial/reports?year=${year}&format=csv&area=${encodeURIComponent(area)}`, body.querySelector("#finance-csv-status"));
      });
      actions(f, place);
    } catch (e) {
      if (mine !== reading) return;
      body.className = "card error"; body.textContent = e.status === 503 ? t("common.unavailable") : e.message;
      main.querySelector("#finance-actions").innerHTML = "";
    }
  };

  const actions = (f, place) => {
    const el = main.querySelector("#finance-actions");
    if (!mayAllocate(ctx.user, place)) { el.innerHTML = ""; return; }
    const next = f.release_rules?.next_instalment || {};
    el.innerHTML = `<div class="layout">
      <form class="card stack" id="allocate-form"><h2>${esc(t("finance.allocate"))} · ${esc(label(place))} · ${esc(f.year_label)}</h2>
        <label>${esc(t("finance.policy"))}<select name="policy"><option value="norms">${esc(t("finance.policy_norms"))}</option><option value="legacy_flat">${esc(t("finance.policy_flat"))}</option></select></label>
        <label class="check"><input type="checkbox" name="first_instalment" checked> ${esc(t("finance.first_instalment"))}</label>
        <div class="row"><button type="button" class="ghost" data-preview>${esc(t("finance.preview"))}</button><button type="submit">${esc(t("finance.commit"))}</button></div></form>
      <form class="card stack" id="release-form"><h2>${esc(t("finance.release"))} · ${esc(label(place))}</h2>
        <p class="muted">${esc(t("finance.next"))}: ${inr(next.total_inr)} · ${next.allowed ? esc(t("finance.allowed")) : `<span class="error">${esc(t("finance.not_allowed"))}</span>`}</p>
        ${(next.reasons || []).length ? `<ul class="reasons">${next.reasons.map((r) => `<li>${esc(typeof r === "string" ? r : r.message || r.rule)}</li>`).join("")}</ul>` : ""}
        <label>${esc(t("finance.instalment"))}<select name="instalment"><option>2</option><option>3</option><option>4</option></select></label>
        <button type="submit">${esc(t("finance.release_button"))}</button></form></div>`;
    const allocate = async (commit) => {
      const form = el.querySelector("#allocate-form"), status = outcome(main);
      if (commit && !confirm(`${t("finance.commit_confirm")} ${label(place)} ${f.year_label}?`)) return;
      status.className = "card muted"; status.textContent = t("common.loading");
      try {
        const plan = await post("/api/v1/financial/allocate?page_size=1", { year, area: areaRef(place), policy: form.policy.value, commit,
                                                                           first_instalment: commit && form.first_instalment.checked });
        const done = plan.recorded;
        status.innerHTML = `${num(plan.totals.schools)} ${esc(t("col.schools"))} · ${inr(plan.totals.total_inr)} (Centre ${inr(plan.totals.centre_inr)}, State ${inr(plan.totals.state_inr)})`
          + (done ? `<br>${esc(t("finance.recorded"))}: ${num(done.allocations.accepted + done.allocations.corrections)} · ${esc(t("finance.already"))}: ${num(done.allocations.duplicates)}` : ` · <em>${esc(t("finance.dry_run"))}</em>`);
        if (commit) load(true);
      } catch (e) { refusal(status, e); }
    };
    el.querySelector("[data-preview]").addEventListener("click", () => allocate(false));
    el.querySelector("#allocate-form").addEventListener("submit", (e) => { e.preventDefault(); allocate(true); });
    el.querySelector("#release-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const status = outcome(main), instalment = Number(e.target.instalment.value);
      if (!confirm(`${t("finance.release_confirm")} ${instalment} · ${label(place)}?`)) return;
      status.className = "card muted"; status.textContent = t("common.loading");
      try {
        const out = await post("/api/v1/financial/release", { year, instalment, area: areaRef(place) });
        status.textContent = `${t("finance.instalment")} ${out.instalment}: ${num(out.recorded.accepted)} ${t("finance.releases_recorded")} (${inr(out.recorded.amount_inr)})${out.decided_before ? " · " + t("finance.decided_before") : ""}`;
        load(true);
      } catch (err) { refusal(status, err); }
    });
  };

  main.querySelector("#year-form").addEventListener("submit", (e) => { e.preventDefault(); year = Number(e.target.year.value); load(); });
  load();
  return () => { reading = -1; };
}

/** Where an allocation's or a release's outcome is told: it stays while the figures are read again. */
function outcome(main) {
  const el = main.querySelector("#finance-outcome");
  el.hidden = false;
  return el;
}

/** An API refusal as the reader needs it: a 409's broken rules one by one, else the message. */
function refusal(el, e) {
  el.className = "card error";
  const rules = e.details?.rules || [];
  el.innerHTML = `<strong>${esc(e.status === 409 ? t("finance.refused") : e.status === 403 ? t("finance.forbidden") : "")}</strong> ${esc(rules.length ? "" : e.message)}`
    + (rules.length ? `<ul class="reasons" id="refusal-rules">${rules.map((r) => `<li data-rule="${esc(r.rule)}">${esc(r.message)}</li>`).join("")}</ul>` : "");
}

function partPlace(place, name) {
  if (place.level === "state") return { level: "district", district: name };
  if (place.level === "district") return { level: "block", district: place.district, block: name };
  return { level: "school", district: place.district, block: place.block, school_id: name };
}

function summary(f, place) {
  const rules = f.release_rules || {};
  return `<h2>${esc(label(place))} · ${esc(f.year_label)} <span class="muted">${esc(t("finance.as_of"))} ${esc(date(f.as_of))}</span></h2>
    <section class="figures">
      <div class="figure" data-figure="allocated"><div class="label">${esc(t("finance.allocated"))}</div><div class="value">${inr(f.allocated?.total_inr)}</div><div class="sub">Centre ${inr(f.allocated?.centre_inr)} · State ${inr(f.allocated?.state_inr)}</div></div>
      <div class="figure" data-figure="released"><div class="label">${esc(t("finance.released"))}</div><div class="value">${inr(f.released_inr)}</div><div class="sub">${pct(f.released_share_of_allocation)} ${esc(t("finance.of_allocation"))}</div></div>
      <div class="figure" data-figure="utilised"><div class="label">${esc(t("finance.utilised"))}</div><div class="value">${inr(f.utilised?.total_inr)}</div><div class="sub">${esc(t("finance.meals"))} ${inr(f.utilised?.meal_cost_inr)}</div></div>
      <div class="figure" data-figure="balance"><div class="label">${esc(t("col.balance"))}</div><div class="value">${inr(f.balance_inr)}</div></div>
    </section>
    ${rules.burn ? `<p>${esc(t("finance.burn"))}: ${inr(rules.burn.inr_per_school_day)}</p>` : ""}
    ${rules.projection ? `<p>${rules.projection.exhausts_balance ? `<strong class="error">${esc(t("finance.runs_out"))} ${esc(date(rules.projection.exhaustion_date))}.</strong>` : esc(t("finance.lasts"))}</p>` : ""}`;
}

function partsTable(f, place) {
  const below = BELOW[place.level];
  if (!below) return "";
  const parts = f.parts || [];
  const head = `<h2>${esc(t(below === "district" ? "state.districts" : below === "block" ? "district.blocks" : "block.schools"))}</h2>`;
  if (!parts.length) return head + `<p class="empty">${esc(t("common.none"))}</p>`;
  return `${head}<p class="row"><button type="button" class="ghost" id="finance-csv">${esc(t("reports.csv"))}</button><span role="status" class="muted" id="finance-csv-status"></span></p>
    <div class="table-wrap"><table id="finance-parts" data-level="${below}"><thead><tr><th>${esc(t("col." + below))}</th><th class="num">${esc(t("col.schools"))}</th><th class="num">${esc(t("finance.allocated"))}</th><th class="num">${esc(t("finance.entitlement"))}</th><th class="num">${esc(t("finance.released"))}</th><th class="num">${esc(t("finance.utilised"))}</th><th class="num">${esc(t("col.balance"))}</th></tr></thead><tbody>${
    parts.map((p) => `<tr class="link" data-part="${esc(p.name)}"><td><a href="#/finance">${esc(p.name)}</a></td><td class="num">${num(p.schools)}</td><td class="num">${inr(p.allocated_inr)}</td><td class="num">${inr(p.entitlement_inr)}</td><td class="num">${inr(p.released_inr)}</td><td class="num">${inr(p.utilised_inr)}</td><td class="num">${inr(p.balance_inr)}</td></tr>`).join("")}</tbody></table></div>`;
}
