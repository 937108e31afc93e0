// A school: its live twin (stock, funds, today's report), the risk score with each factor's points
// and the cascade path, 30 days of meals with the 7-day forecast band, recent events and its open
// alerts. Kept live by the school's own stream.
import { get } from "../api.js";
import { date, esc, inr, num } from "../format.js";
import { t } from "../i18n.js";
import { LiveStream } from "../stream.js";
import { drawChart } from "../chart.js";

export async function render(main, ctx, schoolId) {
  const area = ctx.places.area;
  main.innerHTML = `
    <nav class="crumbs" id="crumbs"></nav>
    <h1 id="school-title">${esc(schoolId)}</h1>
    <section class="figures" id="school-figures" aria-live="polite"><p class="loading">${esc(t("common.loading"))}</p></section>
    <div class="layout">
      <section class="grid">
        <div class="card"><h2>${esc(t("school.risk"))}</h2><div id="risk" class="loading">${esc(t("common.loading"))}</div></div>
        <div class="card"><h2>${esc(t("school.history"))} · ${esc(t("school.forecast"))}</h2><canvas class="chart" id="history-chart" aria-label="meals per day"></canvas><p class="muted" id="forecast-note"></p></div>
      </section>
      <section class="grid">
        <div class="card"><h2>${esc(t("school.events"))}</h2><div class="table-wrap" id="events"></div></div>
        ${area.kind === "school" ? `<div class="card"><a href="#/report">${esc(t("report.title"))} →</a></div>` : ""}
      </section>
    </div>`;
  const info = await get(`/api/v1/schools/${schoolId}`);  // 404 outside the caller's area, as for an unknown school
  if (!main.querySelector("#school-title")) return () => {};  // the reader has moved on
  main.querySelector("#school-title").textContent = `${info.name} · ${schoolId}`;
  const crumbs = [];
  if (area.kind === "state") crumbs.push(`<a href="#/">Tamil Nadu</a>`);
  if (area.kind === "state" || area.kind === "district") crumbs.push(`<a href="#/district/${encodeURIComponent(info.district)}">${esc(info.district)}</a>`);
  if (area.kind !== "school") crumbs.push(`<a href="#/block/${encodeURIComponent(info.district)}/${encodeURIComponent(info.block)}">${esc(info.block)}</a>`);
  main.querySelector("#crumbs").innerHTML = crumbs.join(" › ");

  const showTwin = (s) => {
    const el = main.querySelector("#school-figures");
    if (!el) return;
    const enrolment = s.enrolment ? s.enrolment.primary + s.enrolment.upper_primary + s.enrolment.secondary : info.total_students;
    const today = (s.recent_days || [])[0];
    el.innerHTML = [
      ["meals", t("fig.meals"), num(s.meals_today ?? today?.meals_served ?? 0), s.today ? date(s.today) : ""],
      ["enrolment", t("col.enrolment"), num(enrolment), ""],
      ["stock", t("fig.stock"), `${num(s.stock_days, 1)} ${esc(t("fig.stock_days"))}`, `${num(s.stock_kg?.rice, 1)} kg`],
      ["funds", t("fig.funds"), inr(s.funds?.balance_inr), ""],
      ["report", t("school.last_report"), s.last_report_date ? date(s.last_report_date) : "–", s.stale ? esc(t("fig.stale")) : s.closed ? esc(t("school.closed")) : ""],
    ].map(([k, l, v, sub]) => `<div class="figure" data-figure="${k}"><div class="label">${esc(l)}</div><div class="value">${v}</div><div class="sub">${sub}</div></div>`).join("");
  };
  const loadRisk = async () => {
    const el = main.querySelector("#risk");
    if (!el) return;
    try {
      const r = await get(`/api/v1/predictions/risk/${schoolId}`);
      el.className = "";
      el.innerHTML = `<p><span class="level ${r.level}" id="school-level" data-level="${r.level}">${esc(t("level." + r.level))}</span> <strong>${num(r.score, 1)}</strong> / 100${r.cascade.flagged ? ` · ${esc(t("school.flagged"))}` : ""}${r.open_alerts.length ? ` · ${esc(t("school.open_alerts"))}: ` + esc(r.open_alerts.join(", ")) : ""}</p>
        <table><tbody>${r.factors.map((f) => `<tr><td>${esc(f.factor.replace(/_/g, " "))}</td><td style="width:45%"><div class="bar"><span style="width:${Math.min(100, (100 * f.points) / Math.max(1, f.weight))}%"></span></div></td><td class="num">${num(f.points, 1)} / ${num(f.weight)}</td></tr>`).join("")}</tbody></table>
        ${r.cascade.path?.length ? `<h2>${esc(t("school.path"))}</h2><ol>${r.cascade.path.map((s) => `<li>${s.outside_your_area ? esc(t("school.outside")) : s.school_id ? `<a href="#/school/${s.school_id}">${s.school_id}</a>` : esc(t("school.depot")) + " " + esc(s.depot_of_block)} ${s.local_risk !== undefined ? `· local ${num(s.local_risk, 1)}` : ""}</li>`).join("")}</ol>` : ""}`;
    } catch (e) { el.className = "muted"; el.textContent = e.status === 503 ? t("common.unavailable") : e.message; }
  };
  const loadEvents = async () => {
    const el = main.querySelector("#events");
    if (!el) return;
    try {
      const page = await get(`/api/v1/events?school_id=${schoolId}&limit=20`);
      const events = page.events || [];
      el.innerHTML = events.length ? `<table><thead><tr><th>${esc(t("col.date"))}</th><th>${esc(t("col.event"))}</th><th>${esc(t("col.detail"))}</th></tr></thead><tbody>${events.map((e) => {
        const p = e.payload || e;
        const detail = p.present !== undefined ? `${p.present} present` : p.item ? p.item : p.rice_kg !== undefined ? `${p.rice_kg} kg rice` : p.amount_inr !== undefined ? inr(p.amount_inr) : "";
        return `<tr><td>${esc(date(p.date || e.date))}</td><td>${esc((p.type || e.type || "").replace(/_/g, " "))}</td><td>${esc(detail)}</td></tr>`; }).join("")}</tbody></table>` : `<p class="empty">${esc(t("common.none"))}</p>`;
    } catch (e) { el.innerHTML = `<p class="error">${esc(e.message)}</p>`; }
  };
  const loadChart = async (twin) => {
    const canvas = main.querySelector("#history-chart");
    const to = twin.today || new Date().toISOString().slice(0, 10);
    const from = new Date(new Date(to).getTime() - 29 * 86400e3).toISOString().slice(0, 10);
    let days = [], forecast = null;
    try { days = (await get(`/api/v1/twin/schools/${schoolId}/history?from=${from}&to=${to}`)).days.map((d) => ({ date: d.date, value: d.meals_served ? d.meals_served.primary + d.meals_served.upper_primary + d.meals_served.secondary : 0 })); } catch { /* drawn empty */ }
    const note = main.querySelector("#forecast-note");
    if (!note) return;
    try {
      const f = await get(`/api/v1/predictions/forecast/${schoolId}`);
      forecast = (f.schools[0] || {}).days || f.total;
      note.textContent = `${f.model?.kind || "model"} ${f.model?.version || ""}`;
    } catch (e) { note.textContent = `${t("school.forecast_label")}: ${e.status === 503 ? t("common.unavailable") : e.message}`; }
    if (canvas) drawChart(canvas, days, forecast);
  };

  let twin = await get(`/api/v1/twin/schools/${schoolId}`);
  showTwin(twin);
  loadRisk(); loadEvents(); loadChart(twin);
  let pending = null;
  const stream = new LiveStream(`/api/v1/ws/schools/${schoolId}`, {
    onStatus: ctx.setConnection,
    onRefused: (err) => ctx.showBanner(err.message),
    onMessage: (m) => {
      if (m.type === "snapshot") { twin = m.data; showTwin(twin); }
      else if (m.type === "delta") {
        twin = { ...twin, ...m.data }; showTwin(twin);
        clearTimeout(pending);  // the risk and events follow a change, once a burst is over
        pending = setTimeout(() => { loadRisk(); loadEvents(); }, 700);
      }
    },
  });
  return () => { stream.close(); clearTimeout(pending); };
}
