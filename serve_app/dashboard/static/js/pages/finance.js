// Money of the caller's area for a financial year: allocated by the norms, released, utilised and
// the balance, with the release rules' flags (read from the twin's state by the finance API).
import { get } from "../api.js";
import { date, esc, inr, pct } from "../format.js";
import { t } from "../i18n.js";

export async function render(main, ctx) {
  const a = ctx.places.area;
  const url = a.kind === "state" ? "/api/v1/financial/state" : a.kind === "district" ? `/api/v1/financial/districts/${encodeURIComponent(a.district)}`
    : a.kind === "block" ? `/api/v1/financial/blocks/${encodeURIComponent(a.block)}?district=${encodeURIComponent(a.district)}` : `/api/v1/financial/schools/${a.school_id}`;
  const year = new Date().getMonth() >= 3 ? new Date().getFullYear() : new Date().getFullYear() - 1;
  main.innerHTML = `<h1>${esc(t("finance.title"))}</h1>
    <form class="row" id="year-form"><label>${esc(t("finance.year"))}<input type="number" name="year" min="2000" max="2100" value="${year}"></label><button type="submit">${esc(t("finance.show"))}</button></form>
    <div id="finance-body" class="card loading">${esc(t("common.loading"))}</div>`;
  const body = main.querySelector("#finance-body");
  const load = async (y) => {
    body.className = "card loading"; body.textContent = t("common.loading");
    try {
      const f = await get(`${url}${url.includes("?") ? "&" : "?"}year=${y}`);
      const rules = f.release_rules || {};
      body.className = "card";
      body.innerHTML = `<h2>${esc([f.district, f.block, f.school_id].filter(Boolean).join(" / ") || "Tamil Nadu")} · ${esc(f.year_label)}</h2>
        <section class="figures">
          <div class="figure" data-figure="allocated"><div class="label">${esc(t("finance.allocated"))}</div><div class="value">${inr(f.allocated?.total_inr)}</div><div class="sub">Centre ${inr(f.allocated?.centre_inr)} · State ${inr(f.allocated?.state_inr)}</div></div>
          <div class="figure" data-figure="released"><div class="label">${esc(t("finance.released"))}</div><div class="value">${inr(f.released_inr)}</div><div class="sub">${pct(f.released_share_of_allocation)} ${esc(t("finance.of_allocation"))}</div></div>
          <div class="figure" data-figure="utilised"><div class="label">${esc(t("finance.utilised"))}</div><div class="value">${inr(f.utilised?.total_inr)}</div><div class="sub">meals ${inr(f.utilised?.meal_cost_inr)}</div></div>
          <div class="figure" data-figure="balance"><div class="label">${esc(t("col.balance"))}</div><div class="value">${inr(f.balance_inr)}</div></div>
        </section>
        ${rules.burn ? `<p>${esc(t("finance.burn"))}: ${inr(rules.burn.inr_per_school_day)}</p>` : ""}
        ${rules.projection ? `<p>${rules.projection.exhausts_balance ? `<strong class="error">${esc(t("finance.runs_out"))} ${esc(date(rules.projection.exhaustion_date))}.</strong>` : esc(t("finance.lasts"))}</p>` : ""}`;
    } catch (e) { body.className = "card error"; body.textContent = e.message; }
  };
  main.querySelector("#year-form").addEventListener("submit", (e) => { e.preventDefault(); load(e.target.year.value); });
  load(year);
  return () => {};
}
