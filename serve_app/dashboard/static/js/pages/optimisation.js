// The optimisation centre: the stock rebalancing LP's recommendations for the reader's area, each
// with the receiving school's risk before and after, the children it feeds and its cost; approve
// (it becomes events in the log), reject with a reason, edit a pending one's quantities (checked by
// the API against the LP's constraints), simulate its impact (no-meal child-days and stock-outs
// with 95% intervals against no action and the greedy baseline), and discuss in comments. New
// recommendations, decisions and comments by others arrive live.
import { get, patch, post } from "../api.js";
import { date, esc, inr, num } from "../format.js";
import { t, tOr } from "../i18n.js";
import { impactHtml } from "../impact.js";
import { impactJobsPanel } from "../impact-jobs.js";
import { LiveStream } from "../stream.js";

export async function render(main, ctx) {
  main.innerHTML = `<h1>${esc(t("nav.optimisation"))}</h1>
    <div class="row"><button type="button" id="opt-run">${esc(t("opt.run"))}</button>
      <label class="narrow">${esc(t("opt.status"))}<select id="opt-status">${["pending", "", "applied", "rejected", "superseded"].map((v) => `<option value="${v}">${esc(t("opt.status." + (v || "all")))}</option>`).join("")}</select></label>
      <p role="status" class="muted" id="opt-message"></p></div>
    <div class="card"><div class="table-wrap" id="recommendations"><p class="loading">${esc(t("common.loading"))}</p></div></div>
    <div class="card" id="rec-detail" hidden></div>
    <div class="card" id="impact-jobs-card"></div>`;
  const jobsPanel = impactJobsPanel(main.querySelector("#impact-jobs-card"));
  const message = main.querySelector("#opt-message");
  let open = null;  // the recommendation whose comments are shown
  const list = async () => {
    const el = main.querySelector("#recommendations");
    if (!el) return;
    const status = main.querySelector("#opt-status").value;
    try {
      const page = await get(`/api/v1/optimization/recommendations?page_size=100${status ? `&status=${status}` : ""}`);
      const recs = page.recommendations;
      el.innerHTML = recs.length ? `<table id="recommendations-table"><thead><tr><th>${esc(t("col.school"))}</th><th>${esc(t("opt.from"))}</th><th class="num">kg</th><th class="num">${esc(t("opt.children"))}</th><th class="num">${esc(t("opt.short_days"))}</th><th class="num">${esc(t("opt.cost"))}</th><th>${esc(t("opt.status"))}</th><th></th></tr></thead><tbody>${recs.map((r) => `
        <tr data-rec="${r.id}" data-version="${r.version}">
          <td><a href="#/school/${r.school_id}">${r.school_id}</a> <span class="muted">${esc(r.block)}</span></td>
          <td>${r.from_school_id ? `<a href="#/school/${r.from_school_id}">${r.from_school_id}</a>` : esc(r.from_depot || t("opt.depot"))}</td>
          <td class="num">${num(r.quantity_kg, 1)}</td><td class="num">${num(r.children_affected)}</td>
          <td class="num">${num(r.risk?.before?.shortfall_child_days, 1)} → ${num(r.risk?.after?.shortfall_child_days, 1)}</td>
          <td class="num">${inr(r.cost_inr)}</td><td>${esc(t("opt.status." + r.status))}</td>
          <td class="actions">${r.status === "pending" ? `<button type="button" data-approve>${esc(t("opt.approve"))}</button> <button type="button" class="ghost" data-reject>${esc(t("opt.reject"))}</button>` : ""}
            ${r.status === "pending" && editable(r) ? `<button type="button" class="ghost" data-edit>${esc(t("opt.edit"))}</button>` : ""}
            <button type="button" class="ghost" data-impact>${esc(t("opt.impact"))}</button>
            <button type="button" class="ghost" data-impact-job>${esc(t("jobs.run"))}</button>
            <button type="button" class="ghost" data-comments>${esc(t("opt.comments"))}</button></td></tr>`).join("")}</tbody></table>`
        : `<p class="empty">${esc(t("opt.none"))}</p>`;
      el.querySelectorAll("tr[data-rec]").forEach((tr) => {
        const id = tr.dataset.rec, version = Number(tr.dataset.version);
        tr.querySelector("[data-approve]")?.addEventListener("click", () => decide(`/api/v1/optimization/approve/${id}`, { version }));
        tr.querySelector("[data-reject]")?.addEventListener("click", (e) => {
          const cell = e.target.parentElement;  // the reason is asked in place, then sent with the rejection
          cell.innerHTML = `<form class="row" data-reason><input name="reason" required maxlength="1000" aria-label="${esc(t("opt.reason"))}" placeholder="${esc(t("opt.reason"))}"><button type="submit">${esc(t("opt.reject"))}</button></form>`;
          cell.querySelector("input").focus();
          cell.querySelector("form").addEventListener("submit", (ev) => { ev.preventDefault(); decide(`/api/v1/optimization/reject/${id}`, { version, reason: ev.target.reason.value }); });
        });
        tr.querySelector("[data-comments]").addEventListener("click", () => { open = id; comments(); });
        tr.querySelector("[data-impact]").addEventListener("click", () => impact(id));
        tr.querySelector("[data-impact-job]").addEventListener("click", () => jobsPanel.start(recs.find((r) => r.id === id)));
        tr.querySelector("[data-edit]")?.addEventListener("click", () => edit(recs.find((r) => r.id === id)));
      });
    } catch (e) { el.innerHTML = `<p class="error">${esc(e.message)}</p>`; }
  };
  const decide = async (url, body) => {
    message.textContent = t("common.loading");
    try { const r = await post(url, body); message.textContent = `${r.school_id}: ${tOr("opt.status." + r.status, r.status)}`; }
    catch (e) { message.textContent = e.message; }
    list();
  };
  // a pending transfer's or delivery's items, or an advance's amount, edited in place and sent
  // with the version read
  const edit = (r) => {
    const el = main.querySelector("#rec-detail");
    el.hidden = false;
    const items = r.action.items || {};
    const fields = r.kind === "fund_advance"
      ? `<label>${esc(t("opt.amount"))}<input type="number" name="amount_inr" min="1" step="any" required value="${r.action.amount_inr ?? r.cost_inr}"></label>`
      : ITEMS.map((k) => `<label>${esc(t("report." + k.replace(/_kg$/, "")))}<input type="number" name="${k}" min="0" step="${k === "eggs" ? 1 : "any"}" value="${k === "eggs" ? Math.round(items[k] ?? 0) : items[k] ?? 0}"></label>`).join("");
    el.innerHTML = `<h2>${esc(t("opt.edit"))}: ${esc(r.school_id)}</h2>
      <form class="stack" id="edit-form"><div class="row">${fields}</div>
        <div class="row"><button type="submit">${esc(t("opt.save"))}</button><button type="button" class="ghost" data-cancel>${esc(t("common.back"))}</button></div>
        <p role="status" id="edit-status" class="muted"></p></form>`;
    el.querySelector("[data-cancel]").addEventListener("click", () => { el.hidden = true; });
    el.querySelector("#edit-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const status = el.querySelector("#edit-status"), body = { version: r.version };
      if (r.kind === "fund_advance") body.amount_inr = Number(e.target.amount_inr.value);
      else for (const k of ITEMS) body[k] = Number(e.target[k].value) || 0;
      status.className = "muted"; status.textContent = t("common.loading");
      try {
        const saved = await patch(`/api/v1/optimization/recommendations/${r.id}`, body);
        const moved = saved.kind === "fund_advance" ? inr(saved.cost_inr) : `${num(saved.quantity_kg, 1)} kg`;
        status.textContent = `${t("opt.saved")}: ${moved} · ${num(saved.risk?.before?.shortfall_child_days, 1)} → ${num(saved.risk?.after?.shortfall_child_days, 1)}`;
        list();
      } catch (err) {
        status.className = "error";  // 422 names the constraint broken, 409 a version someone else changed
        status.textContent = err.message;
      }
    });
  };
  // the recommendation simulated against no action and the greedy baseline (seconds: shown as it runs)
  const impact = async (id) => {
    const el = main.querySelector("#rec-detail");
    el.hidden = false;
    el.innerHTML = `<h2>${esc(t("opt.impact"))}</h2><p class="loading" role="status">${esc(t("opt.simulating"))}</p>`;
    try {
      const answer = await get(`/api/v1/optimization/impact/${id}`);
      if (!main.querySelector("#rec-detail")) return;
      el.innerHTML = impactHtml(answer);
    } catch (e) { el.innerHTML = `<h2>${esc(t("opt.impact"))}</h2><p class="error">${esc(e.status === 503 ? t("common.unavailable") : e.message)}</p>`; }
  };
  const comments = async () => {
    const el = main.querySelector("#rec-detail");
    if (!el || !open) return;
    el.hidden = false;
    try {
      const rows = await get(`/api/v1/optimization/recommendations/${open}/comments`);
      el.innerHTML = `<h2>${esc(t("opt.comments"))}</h2>${rows.length ? rows.map((c) => `<p><strong>${esc(c.author)}</strong> <span class="muted">${esc(date(c.created_at))}</span><br>${esc(c.body)}</p>`).join("") : `<p class="muted">${esc(t("common.none"))}</p>`}
        <form class="row" id="comment-form"><label>${esc(t("opt.comment"))}<input name="body" maxlength="4000" required></label><button type="submit">${esc(t("opt.send"))}</button></form>`;
      el.querySelector("#comment-form").addEventListener("submit", async (e) => {
        e.preventDefault();
        try { await post(`/api/v1/optimization/recommendations/${open}/comments`, { body: e.target.body.value }); comments(); }
        catch (err) { message.textContent = err.message; }
      });
    } catch (e) { el.innerHTML = `<p class="error">${esc(e.message)}</p>`; }
  };
  main.querySelector("#opt-status").addEventListener("change", list);
  main.querySelector("#opt-run").addEventListener("click", async (e) => {
    e.target.disabled = true; message.textContent = t("common.loading");
    try { const r = await post("/api/v1/optimization/run", {}); message.textContent = `${r.message}: ${num(r.recommendations)} ${t("opt.recommendations")}`; }
    catch (err) { message.textContent = err.message; }
    e.target.disabled = false;
    list();
  });
  let pending = null;
  const stream = new LiveStream("/api/v1/ws/optimization", {
    onStatus: ctx.setConnection,
    onMessage: (m) => {
      if (m.type !== "delta") return;
      clearTimeout(pending);  // a run creates many at once: one read after the burst
      pending = setTimeout(() => { list(); if (m.data.event === "comment" && m.data.id === open) comments(); }, 400);
    },
  });
  list();
  return () => { stream.close(); clearTimeout(pending); jobsPanel.stop(); };
}

const ITEMS = ["rice_kg", "pulses_kg", "oil_kg", "eggs"];

/** Recommendations whose quantities may be edited here: a transfer's or a delivery's items, an advance's amount. */
function editable(r) {
  return r.kind === "fund_advance" || Boolean(r.action && r.action.items && typeof r.action.items === "object");
}
