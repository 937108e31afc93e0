// The simulation lab: build a what-if scenario from a few controls (delivery delay, closure by
// monsoon or cyclone, fund delay, enrolment change, price shock; plans with buffer days or a
// delivery interval), run it on the twin, watch its rounds live, and read the KPI bands and each
// plan's paired difference against the baseline.
import { get, post } from "../api.js";
import { date, esc, num } from "../format.js";
import { t, tOr } from "../i18n.js";
import { LiveStream } from "../stream.js";

export async function render(main, ctx) {
  const a = ctx.places.area;
  // where a run may look: the reader's districts, or (a block officer) their block
  const places = ctx.places.districts.length ? ctx.places.districts.map((d) => ({ key: "districts", value: d.name, label: d.name }))
    : ctx.places.blocks.map((b) => ({ key: "blocks", value: `${b.district_name}/${b.name}`, label: `${b.name} · ${b.district_name}` }));
  main.innerHTML = `<h1>${esc(t("scen.title"))}</h1>
    <div class="layout">
      <form class="card stack" id="scenario-form">
        <label>${esc(t("scen.name"))}<input name="name" required maxlength="200" value="${esc(t("scen.default_name"))}"></label>
        <div class="row"><label>${esc(t("col.district"))}<select name="place">${places.map((p, k) => `<option value="${k}" ${p.value === a.district ? "selected" : ""}>${esc(p.label)}</option>`).join("")}</select></label>
          <label>${esc(t("scen.days"))}<input type="number" name="horizon" min="1" max="366" value="30"></label></div>
        <div class="row"><label>${esc(t("scen.delay"))}<input type="number" name="delay" min="0" max="180" value="0"></label>
          <label>${esc(t("scen.closure"))}<select name="closure">${["", "monsoon", "cyclone", "flood"].map((c) => `<option value="${c}">${esc(t("scen.closure." + (c || "none")))}</option>`).join("")}</select></label></div>
        <div class="row"><label>${esc(t("scen.fund_delay"))}<input type="number" name="fund_delay" min="0" max="365" value="0"></label>
          <label>${esc(t("scen.enrolment"))}<input type="number" name="enrolment" min="-100" max="200" value="0"></label>
          <label>${esc(t("scen.price"))}<input type="number" name="price" min="-99" max="500" value="0"></label></div>
        <div class="row"><label>${esc(t("scen.buffer"))}<input type="number" name="buffer" min="0" max="120" value="0"></label>
          <label>${esc(t("scen.interval"))}<input type="number" name="interval" min="0" max="120" value="0"></label></div>
        <button type="submit">${esc(t("scen.run"))}</button>
        <p role="status" id="scenario-status" class="muted"></p>
      </form>
      <section class="grid"><div class="card"><h2>${esc(t("scen.runs"))}</h2><div id="runs" class="loading">${esc(t("common.loading"))}</div></div>
        <div class="card" id="run-detail" hidden></div></section>
    </div>`;
  let watching = null;
  const status = main.querySelector("#scenario-status");
  const loadRuns = async () => {
    const el = main.querySelector("#runs");
    try {
      const page = await get("/api/v1/scenarios?page_size=20");
      el.className = "";
      el.innerHTML = page.runs.length ? `<table id="runs-table"><thead><tr><th>${esc(t("scen.name"))}</th><th>${esc(t("scen.status"))}</th><th>${esc(t("scen.done"))}</th><th>${esc(t("scen.created"))}</th></tr></thead><tbody>${page.runs.map((r) =>
        `<tr class="link" data-run="${r.id}"><td><a href="#/scenarios" data-open="${r.id}">${esc(r.name)}</a></td><td>${esc(tOr("scen.status." + r.status, r.status))}</td><td>${num(r.progress.done)}</td><td>${esc(date(r.created_at))}</td></tr>`).join("")}</tbody></table>` : `<p class="empty">${esc(t("common.none"))}</p>`;
      el.querySelectorAll("[data-open]").forEach((link) => link.addEventListener("click", (e) => { e.preventDefault(); watch(link.dataset.open); }));
    } catch (e) { el.className = "error"; el.textContent = e.message; }
  };
  const showRun = (run) => {
    const el = main.querySelector("#run-detail");
    el.hidden = false;
    const estimates = run.result ? null : run.progress?.estimates || {};
    const plans = run.result?.plans || null;
    const band = (e) => (e ? `${num(e.mean, 1)} <span class="muted">[${num(e.low, 1)} – ${num(e.high, 1)}]</span>` : "–");
    let body = `<h2>${esc(run.name)} · <span id="run-status" data-status="${esc(run.status)}">${esc(tOr("scen.status." + run.status, run.status))}</span></h2><p id="run-progress" data-done="${run.progress?.done ?? 0}">${num(run.progress?.done)} / ${num(run.progress?.planned)} · ${num(run.progress?.rounds)} <span class="muted">(${esc(t("scen.progress"))})</span></p>`;
    if (estimates && Object.keys(estimates).length) {
      body += Object.entries(estimates).map(([plan, kpis]) => `<h2>${esc(tOr("plan." + plan, plan))}</h2><table><tbody>${Object.entries(kpis).map(([k, e]) => `<tr><td>${esc(tOr("kpi." + k, k.replace(/_/g, " ")))}</td><td class="num">${band(e)}</td></tr>`).join("")}</tbody></table>`).join("");
    }
    if (plans) {
      body += plans.map((p) => `<h2>${esc(tOr("plan." + p.name, p.name))}</h2><table><thead><tr><th>${esc(t("scen.kpi"))}</th><th class="num">${esc(t("scen.mean"))}</th><th class="num">${esc(t("scen.vs_baseline"))}</th></tr></thead><tbody>${
        Object.entries(p.kpis || {}).map(([k, e]) => `<tr><td>${esc(tOr("kpi." + k, k.replace(/_/g, " ")))}</td><td class="num">${band(e)}</td><td class="num">${band((p.vs_baseline || {})[k])}</td></tr>`).join("")}</tbody></table>`).join("");
    }
    if (run.error) body += `<p class="error">${esc(run.error)}</p>`;
    if (run.status === "running" || run.status === "queued") body += `<button type="button" class="ghost" id="cancel-run">${esc(t("scen.cancel"))}</button>`;
    el.innerHTML = body;
    const cancel = el.querySelector("#cancel-run");
    if (cancel) cancel.onclick = () => post(`/api/v1/scenarios/${run.id}/cancel`).catch((e) => { status.textContent = e.message; });
  };
  const watch = async (id) => {
    if (watching) watching.close();
    let run = await get(`/api/v1/scenarios/${id}`);
    showRun(run);
    if (["done", "failed", "cancelled"].includes(run.status)) return;
    watching = new LiveStream(`/api/v1/ws/scenarios/${id}`, {
      onStatus: ctx.setConnection,
      onMessage: async (m) => {
        if (m.type === "snapshot") run = { ...run, ...m.data };
        else if (m.type === "delta") {
          run = { ...run, status: m.data.status, progress: m.data.progress || run.progress, error: m.data.error };
          if (m.data.status !== "running") { run = await get(`/api/v1/scenarios/${id}`); watching.close(); loadRuns(); }
        }
        showRun(run);
      },
    });
  };
  main.querySelector("#scenario-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = e.target;
    const place = places[Number(f.place.value)];
    const where = { [place.key]: [place.value] };
    const horizon = Number(f.horizon.value);
    const interventions = [];
    if (Number(f.delay.value) > 0) interventions.push({ kind: "delivery_delay", ...where, delay_days: Number(f.delay.value) });
    if (f.closure.value) interventions.push({ kind: "closure", ...where, reason: f.closure.value });
    if (Number(f.fund_delay.value) > 0) interventions.push({ kind: "fund_delay", ...where, delay_days: Number(f.fund_delay.value) });
    if (Number(f.enrolment.value) !== 0) interventions.push({ kind: "enrolment_change", ...where, percent: Number(f.enrolment.value) });
    if (Number(f.price.value) !== 0) interventions.push({ kind: "price_shock", ...where, percent: Number(f.price.value) });
    const plan = { name: "plan" };
    if (Number(f.buffer.value) > 0) plan.buffer_days = Number(f.buffer.value);
    if (Number(f.interval.value) > 0) plan.delivery_interval_days = Number(f.interval.value);
    const spec = { name: f.name.value, start: "live", horizon_days: horizon, scope: where, seed: 1, interventions,
                   plans: Object.keys(plan).length > 1 ? [plan] : [] };
    status.textContent = t("common.loading");
    try { const run = await post("/api/v1/scenarios", spec); status.textContent = `${run.name}: ${tOr("scen.status." + run.status, run.status)}`; loadRuns(); watch(run.id); }
    catch (err) { status.textContent = err.message; }
  });
  loadRuns();
  return () => { if (watching) watching.close(); };
}

