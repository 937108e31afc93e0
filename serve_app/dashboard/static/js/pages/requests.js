// Account requests an officer decides: those asked for inside its area by the roles below it, oldest
// first. Approve makes the account active with the role and area asked for; reject asks for the
// reason in place, and the holder is told it at sign-in. A request decided meanwhile by another
// officer answers 409, shown on its row.
import { get, post } from "../api.js";
import { date, esc } from "../format.js";
import { t } from "../i18n.js";

export async function render(main) {
  main.innerHTML = `<h1>${esc(t("req.title"))}</h1>
    <div class="row"><label class="narrow">${esc(t("opt.status"))}<select id="req-status">
      <option value="pending">${esc(t("req.pending"))}</option><option value="approved">${esc(t("req.approved"))}</option>
      <option value="rejected">${esc(t("req.rejected"))}</option></select></label></div>
    <div id="req-body" class="card loading">${esc(t("common.loading"))}</div>`;
  const body = main.querySelector("#req-body");
  const status = main.querySelector("#req-status");
  const load = async () => {
    body.className = "card loading"; body.textContent = t("common.loading");
    try {
      const page = await get(`/api/v1/account-requests?status=${status.value}&page_size=200`);
      body.className = "card";
      if (!page.requests.length) { body.innerHTML = `<p class="muted" id="req-none">${esc(t("req.none"))}</p>`; return; }
      body.innerHTML = `<div class="table-wrap"><table id="requests-table"><thead><tr>
        <th>${esc(t("reg.name"))}</th><th>${esc(t("auth.email"))}</th><th>${esc(t("reg.role"))}</th>
        <th>${esc(t("req.area"))}</th><th>${esc(t("req.asked"))}</th><th></th></tr></thead><tbody>
        ${page.requests.map((r) => `<tr data-request="${r.id}" data-email="${esc(r.email)}">
          <td>${esc(r.full_name)}</td><td>${esc(r.email)}</td><td>${esc(t("role." + r.role))}</td>
          <td>${esc([r.district, r.block, r.school_id].filter(Boolean).join(" / "))}</td><td>${esc(date(r.requested_at))}</td>
          <td class="decision">${r.status === "pending" ? `<button type="button" data-approve>${esc(t("opt.approve"))}</button> <button type="button" class="ghost" data-reject>${esc(t("opt.reject"))}</button>`
            : esc(t("req." + r.status) + (r.reason ? `: ${r.reason}` : ""))}</td></tr>`).join("")}
        </tbody></table></div>`;
      for (const tr of body.querySelectorAll("tr[data-request]")) {
        const id = tr.dataset.request;
        const cell = tr.querySelector(".decision");
        const decide = async (action, json) => {
          for (const b of cell.querySelectorAll("button")) b.disabled = true;
          try {
            const done = await post(`/api/v1/account-requests/${id}/${action}`, json);
            cell.textContent = t("req." + done.status) + (done.reason ? `: ${done.reason}` : "");
            tr.dataset.status = done.status;
          } catch (err) {
            cell.innerHTML = `<span class="error" role="alert">${esc(err.message)}</span>`;
          }
        };
        tr.querySelector("[data-approve]")?.addEventListener("click", () => decide("approve"));
        tr.querySelector("[data-reject]")?.addEventListener("click", () => {
          cell.innerHTML = `<form class="row" data-reason><input name="reason" required maxlength="500" aria-label="${esc(t("req.reason"))}" placeholder="${esc(t("req.reason"))}"><button type="submit">${esc(t("opt.reject"))}</button></form>`;
          cell.querySelector("input").focus();
          cell.querySelector("form").addEventListener("submit", (ev) => { ev.preventDefault(); decide("reject", { reason: ev.target.reason.value }); });
        });
      }
    } catch (e) { body.className = "card error"; body.textContent = e.message; }
  };
  status.addEventListener("change", load);
  await load();
  return () => {};
}
