// The simulation lab: build a what-if scenario from a few controls (delivery delay, closure by
// monsoon or cyclone, fund delay, enrolment change, price shock; plans with buffer days or a
// delivery interval), run it on the twin, watch its rounds live, and read the KPI bands and each
// plan's paired difference against the baseline.
import { get, post } from "../api.js";
import { date, esc, num } from "../format.js";
import { t } from "../i18n.js";
import { LiveStream } from "../stream.js";

export async function render(main, ctx) {
  const a = ctx.places.area;
  // where a run may look: the reader's districts, or (a block officer) their block
  const places = ctx.places.districts.length ? ctx.places.districts.map((d) => ({ key: "districts", value: d.name, label: d.name }))
    : ctx.places.blocks.map((b) => ({ key: "blocks", value: `${b.district_name}/${b.name}`, label: `${b.name} · ${b.district_name}` }));
  main.innerHTML = `<h1>${esc(t("scen.title"))}</h1>
    <div class="layout">
      <form class="card stack" id="scenario-form">
        <label>Name<input name="name" required maxlength="200" value="What if"></label>
        <div class="row"><label>${esc(t("col.district"))}<select name="place">${places.map((p, k) => `<option value="${k}" ${p.value === a.district ? "selected" : ""}>${esc(p.label)}</option>`).join("")}</select></label>
          <label>Days<input type="number" name="horizon" min="1" max="366" value="30"></label></div>
        <div class="row"><label>Delivery delay (days)<input type="number" name="delay" min="0" max="180" value="0"></label>
          <label>Closure (the whole run)<select name="closure"><option value="">none</option><option>monsoon</option><option>cyclone</option><option>flood</option></select></label></div>
        <div class="row"><label>Fund delay (days)<input type="number" name="fund_delay" min="0" max="365" value="0"></label>
          <label>Enrolment change %<input type="number" name="enrolment" min="-100" max="200" value="0"></label>
          <label>Price shock %<input type="number" name="price" min="-99" max="500" value="0"></label></div>
        <div class="row"><label>Plan: buffer days<input type="number" name="buffer" min="0" max="120" value="0"></label>
          <label>Plan: delivery interval<input type="number" name="interval" min="0" max="120" value="0"></label></div>
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
      el.innerHTML = page.runs.length ? `<table><thead><tr><th>Name</th><th>Status</th><th>Done</th><th>Created</th></tr></thead><tbody>${page.runs.map((r) =>
        `<tr class="link" data-run="${r.id}"><td><a href="#/scenarios" data-open="${r.id}">${esc(r.name)}</a></td><td>${esc(r.status)}</td><td>${num(r.progress.done)}</td><td>${esc(date(r.created_at))}</td></tr>`).join("")}</tbody></table>` : `<p class="empty">${esc(t("common.none"))}</p>`;
      el.querySelectorAll("[data-open]").forEach((link) => link.addEventListener("click", (e) => { e.preventDefault(); watch(link.dataset.open); }));
    } catch (e) { el.className = "error"; el.textContent = e.message; }
  };
  const showRun = (run) => {
    const el = main.querySelector("#run-detail");
    el.hidden = false;
    const estimates = run.result ? null : run.progress?.estimates || {};
    const plans = run.result?.plans || null;
    const band = (e) => (e ? `${num(e.mean, 1)} <span class="muted">[${num(e.low, 1)} – ${num(e.high, 1)}]</span>` : "–");
    let body = `<h2>${esc(run.name)} · <span id="run-status">${esc(run.status)}</span></h2><p>${num(run.progress?.done)} / ${num(run.progress?.planned)} replications, ${num(run.progress?.rounds)} rounds</p>`;
    if (estimates && Object.keys(estimates).length) {
      body += Object.entries(estimates).map(([plan, kpis]) => `<h2>${esc(plan)}</h2><table><tbody>${Object.entries(kpis).map(([k, e]) => `<tr><td>${esc(k.replace(/_/g, " "))}</td><td class="num">${band(e)}</td></tr>`).join("")}</tbody></table>`).join("");
    }
    if (plans) {
      body += plans.map((p) => `<h2>${esc(p.name)}</h2><table><thead><tr><th>KPI</th><th class="num">Mean [95%]</th><th class="num">vs baseline</th></tr></thead><tbody>${
        Object.entries(p.kpis || {}).map(([k, e]) => `<tr><td>${esc(k.replace(/_/g, " "))}</td><td class="num">${band(e)}</td><td class="num">${band((p.vs_baseline || {})[k])}</td></tr>`).join("")}</tbody></table>`).join("");
    }
    if (run.error) body += `<p class="error">${esc(run.error)}</p>`;
    if (run.status === "running" || run.status === "queued") body += `<button type="button" class="ghost" id="cancel-run">Cancel</button>`;
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
    try { const run = await post("/api/v1/scenarios", spec); status.textContent = `${run.name}: ${run.status}`; loadRuns(); watch(run.id); }
    catch (err) { status.textContent = err.message; }
  });
  loadRuns();
  return () => { if (watching) watching.close(); };
}

