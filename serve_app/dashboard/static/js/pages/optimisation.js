// The optimisation centre: the stock rebalancing LP's recommendations for the reader's area, each
// with the receiving school's risk before and after, the children it feeds and its cost; approve
// (it becomes events in the log), reject with a reason, and discuss in comments. New
// recommendations, decisions and comments by others arrive live.
import { get, post } from "../api.js";
import { date, esc, inr, num } from "../format.js";
import { t } from "../i18n.js";
import { LiveStream } from "../stream.js";

export async function render(main, ctx) {
  main.innerHTML = `<h1>${esc(t("nav.optimisation"))}</h1>
    <div class="row"><button type="button" id="opt-run">${esc(t("opt.run"))}</button>
      <label class="narrow">${esc(t("opt.status"))}<select id="opt-status"><option value="pending">pending</option><option value="">all</option><option>applied</option><option>rejected</option><option>superseded</option></select></label>
      <p role="status" class="muted" id="opt-message"></p></div>
    <div class="card"><div class="table-wrap" id="recommendations"><p class="loading">${esc(t("common.loading"))}</p></div></div>
    <div class="card" id="rec-detail" hidden></div>`;
  const message = main.querySelector("#opt-message");
  let open = null;  // the recommendation whose comments are shown
  const list = async () => {
    const el = main.querySelector("#recommendations");
    if (!el) return;
    const status = main.querySelector("#opt-status").value;
    try {
      const page = await get(`/api/v1/optimization/recommendations?page_size=100${status ? `&status=${status}` : ""}`);
      const recs = page.recommendations;
      el.innerHTML = recs.length ? `<table id="recommendations-table"><thead><tr><th>${esc(t("col.school"))}</th><th>From</th><th class="num">kg</th><th class="num">Children</th><th class="num">Short child-days before → after</th><th class="num">Cost</th><th>Status</th><th></th></tr></thead><tbody>${recs.map((r) => `
        <tr data-rec="${r.id}" data-version="${r.version}">
          <td><a href="#/school/${r.school_id}">${r.school_id}</a> <span class="muted">${esc(r.block)}</span></td>
          <td>${r.from_school_id ? `<a href="#/school/${r.from_school_id}">${r.from_school_id}</a>` : esc(r.from_depot || "depot")}</td>
          <td class="num">${num(r.quantity_kg, 1)}</td><td class="num">${num(r.children_affected)}</td>
          <td class="num">${num(r.risk?.before?.shortfall_child_days, 1)} → ${num(r.risk?.after?.shortfall_child_days, 1)}</td>
          <td class="num">${inr(r.cost_inr)}</td><td>${esc(r.status)}</td>
          <td>${r.status === "pending" ? `<button type="button" data-approve>${esc(t("opt.approve"))}</button> <button type="button" class="ghost" data-reject>${esc(t("opt.reject"))}</button>` : ""}
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
      });
    } catch (e) { el.innerHTML = `<p class="error">${esc(e.message)}</p>`; }
  };
  const decide = async (url, body) => {
    message.textContent = t("common.loading");
    try { const r = await post(url, body); message.textContent = `${r.school_id}: ${r.status}`; }
    catch (e) { message.textContent = e.message; }
    list();
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
    try { const r = await post("/api/v1/optimization/run", {}); message.textContent = `${r.message}: ${r.recommendations} recommendations`; }
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
  return () => { stream.close(); clearTimeout(pending); };
}
