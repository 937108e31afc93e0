// Reports of the caller's area: a CSV or PDF downloaded now; a report built in the background as a
// job (its progress shown as it runs, its file downloaded once done); and reports sent by email on
// a schedule (made, paused, resumed, deleted, run now as a job, their deliveries listed). Every
// role has all three, each over its own area only: the levels and places offered are the area's.
import { del, download, get, post } from "../api.js";
import { date, esc, num } from "../format.js";
import { t } from "../i18n.js";

const KINDS = ["schools", "attendance", "alerts", "risk", "finance", "forecasts"];
const JOB_POLL_MS = 1500;

/** The PDF levels a role's area holds, widest first (a school admin: only the school). */
function levelsOf(area) {
  return { state: ["state", "district", "block", "school"], district: ["district", "block", "school"],
           block: ["block", "school"], school: ["school"] }[area.kind];
}

function whatFields(ctx, prefix) {
  const area = ctx.places.area;
  return `
    <div class="row"><label>${esc(t("reports.format"))}<select name="format"><option value="csv">CSV</option><option value="pdf">PDF</option></select></label>
      <label data-for="csv">${esc(t("reports.kind"))}<select name="kind">${KINDS.map((k) => `<option value="${k}">${esc(t("reports.kind." + k))}</option>`).join("")}</select></label>
      <label data-for="pdf" hidden>${esc(t("reports.level"))}<select name="level">${levelsOf(area).map((l) => `<option value="${l}">${esc(t("reports.level." + l))}</option>`).join("")}</select></label>
      <label data-for="pdf" hidden>${esc(t("reports.place"))}<input name="place" maxlength="100" list="${prefix}-places" placeholder="${esc(t("reports.place_hint"))}"></label></div>
    <datalist id="${prefix}-places">${ctx.places.districts.map((d) => `<option value="${esc(d.name)}">`).join("")}${ctx.places.blocks.map((b) => `<option value="${esc(b.name)}">`).join("")}</datalist>`;
}

/** Show the CSV or the PDF fields of a form as its format says; returns the function that does. */
function followFormat(form) {
  const show = () => form.querySelectorAll("[data-for]").forEach((el) => { el.hidden = el.dataset.for !== form.format.value; });
  form.format.addEventListener("change", show);
  show();
  return show;
}

/** The report a form names, as the API's job and schedule requests take it. */
function reportOf(ctx, form, placeField) {
  if (form.format.value === "csv") return { format: "csv", kind: form.kind.value };
  const level = form.level.value;
  const out = { format: "pdf", level };
  const place = form.place.value.trim();
  if (level !== "state" && place) {
    out[placeField] = place;
    // a block is named within its district: the reader's own, or the one the places list holds it in
    const block = level === "block" ? ctx.places.blocks.find((b) => b.name.toLowerCase() === place.toLowerCase()) : null;
    if (block) out.district = block.district_name;
  }
  return out;
}

function describe(report, area) {
  const what = report.format === "csv" ? `CSV · ${t("reports.kind." + report.what)}` : `PDF · ${t("reports.level." + report.what)}`;
  const where = area ? [area.district, area.block, area.school_id].filter(Boolean).join(" / ") : "";
  return `${what}${where ? " · " + where : ""}`;
}

export async function save(url, statusEl) {
  statusEl.className = "muted";
  statusEl.textContent = t("common.loading");
  try {
    const { blob, filename } = await download(url);
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob); link.download = filename;
    document.body.appendChild(link); link.click(); link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    statusEl.textContent = `${filename} (${num(Math.max(1, Math.round(blob.size / 1024)))} KB)`;
  } catch (e) { statusEl.textContent = e.message; statusEl.className = "error"; }
}

export async function render(main, ctx) {
  const a = ctx.places.area;
  const pdfLevel = a.kind === "state" ? "district" : a.kind;
  main.innerHTML = `<h1>${esc(t("reports.title"))}</h1>
    <div class="layout">
      <section class="grid">
        <form class="card stack" id="csv-form"><h2>${esc(t("reports.now"))}: CSV</h2>
          <label>${esc(t("reports.kind"))}<select name="kind">${KINDS.slice(0, 4).map((k) => `<option value="${k}">${esc(t("reports.kind." + k))}</option>`).join("")}</select></label>
          <button type="submit">${esc(t("reports.csv"))}</button><p role="status" class="muted" id="csv-status"></p></form>
        <form class="card stack" id="pdf-form"><h2>${esc(t("reports.now"))}: PDF</h2>
          ${pdfLevel === "district" ? `<label>${esc(t("col.district"))}<select name="name">${ctx.places.districts.map((d) => `<option ${d.name === a.district ? "selected" : ""}>${esc(d.name)}</option>`).join("")}</select></label>` : ""}
          <button type="submit">${esc(t("reports.pdf"))}</button><p role="status" class="muted" id="pdf-status"></p></form>
        <form class="card stack" id="job-form"><h2>${esc(t("reports.job_new"))}</h2>
          <p class="muted">${esc(t("reports.job_help"))}</p>
          ${whatFields(ctx, "job")}
          <div class="row"><label>${esc(t("reports.from"))}<input type="date" name="from"></label><label>${esc(t("reports.to"))}<input type="date" name="to"></label></div>
          <button type="submit">${esc(t("reports.job_start"))}</button><p role="status" class="muted" id="job-status"></p></form>
      </section>
      <section class="grid">
        <div class="card"><h2>${esc(t("reports.jobs"))}</h2><div class="table-wrap" id="jobs"><p class="loading">${esc(t("common.loading"))}</p></div></div>
        <div class="card"><h2>${esc(t("reports.schedules"))}</h2><div class="table-wrap" id="schedules"><p class="loading">${esc(t("common.loading"))}</p></div>
          <p role="status" class="muted" id="schedule-status"></p><div id="deliveries" hidden></div></div>
        <form class="card stack" id="schedule-form"><h2>${esc(t("reports.schedule_new"))}</h2>
          <label>${esc(t("reports.name"))}<input name="name" required maxlength="200"></label>
          ${whatFields(ctx, "schedule")}
          <div class="row"><label>${esc(t("reports.frequency"))}<select name="frequency"><option value="daily">${esc(t("reports.daily"))}</option><option value="weekly">${esc(t("reports.weekly"))}</option><option value="monthly">${esc(t("reports.monthly"))}</option></select></label>
            <label>${esc(t("reports.at"))}<input type="time" name="at_time" value="07:30" required></label>
            <label data-when="weekly" hidden>${esc(t("reports.weekday"))}<select name="weekday">${[0, 1, 2, 3, 4, 5, 6].map((d) => `<option value="${d}">${esc(t("day." + d))}</option>`).join("")}</select></label>
            <label data-when="monthly" hidden>${esc(t("reports.day_of_month"))}<input type="number" name="day_of_month" min="1" max="28" value="1"></label></div>
          <label>${esc(t("reports.recipients"))}<input name="recipients" required placeholder="officer@example.org, …"></label>
          <button type="submit">${esc(t("reports.schedule_create"))}</button><p role="status" class="muted" id="schedule-form-status"></p></form>
      </section>
    </div>`;

  main.querySelector("#csv-form").addEventListener("submit", (e) => { e.preventDefault(); save(`/api/v1/reports/export/csv?kind=${e.target.kind.value}`, main.querySelector("#csv-status")); });
  main.querySelector("#pdf-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const q = pdfLevel === "district" ? `level=district&name=${encodeURIComponent(e.target.name.value)}`
      : pdfLevel === "block" ? `level=block&name=${encodeURIComponent(a.block)}&district=${encodeURIComponent(a.district)}` : `level=school&name=${a.school_id}`;
    save(`/api/v1/reports/export/pdf?${q}`, main.querySelector("#pdf-status"));
  });

  let stopped = false, pollTimer = null;
  const jobs = async () => {
    const el = main.querySelector("#jobs");
    if (!el || stopped) return;
    clearTimeout(pollTimer);
    try {
      const page = await get("/api/v1/reports/jobs?page_size=20");
      if (stopped) return;
      el.innerHTML = page.jobs.length ? `<table id="jobs-table"><thead><tr><th>${esc(t("reports.report"))}</th><th>${esc(t("opt.status"))}</th><th>${esc(t("reports.progress"))}</th><th>${esc(t("reports.made"))}</th><th></th></tr></thead><tbody>${page.jobs.map((j) => {
        const p = j.progress || {};
        const share = p.total ? Math.round((100 * p.done) / p.total) : null;
        return `<tr data-job="${esc(j.id)}" data-status="${esc(j.status)}"><td>${esc(describe({ format: j.request.format, what: j.request.what }, j.request.area))}</td>
          <td>${esc(t("job." + j.status))}${j.error ? `<br><span class="error">${esc(j.error)}</span>` : ""}</td>
          <td>${j.status === "done" ? esc(`${num(Math.max(1, Math.round((j.size_bytes || 0) / 1024)))} KB`) : `${esc(p.stage || "")}${share !== null ? ` <span class="bar" role="progressbar" aria-valuenow="${share}" aria-valuemin="0" aria-valuemax="100"><span style="width:${share}%"></span></span>` : ""}`}</td>
          <td>${esc(date(j.created_at))}</td>
          <td>${j.status === "done" ? `<button type="button" data-download>${esc(t("reports.download"))}</button>` : ""}<span role="status" class="muted" data-job-status></span></td></tr>`; }).join("")}</tbody></table>`
        : `<p class="empty">${esc(t("reports.no_jobs"))}</p>`;
      el.querySelectorAll("tr[data-job]").forEach((tr) => tr.querySelector("[data-download]")?.addEventListener("click",
        () => save(`/api/v1/reports/jobs/${tr.dataset.job}/download`, tr.querySelector("[data-job-status]"))));
      // a job still queued or running is read again until it ends: its progress moves on the page
      if (page.jobs.some((j) => j.status === "queued" || j.status === "running")) pollTimer = setTimeout(jobs, JOB_POLL_MS);
    } catch (e) {
      el.innerHTML = `<p class="error">${esc(e.message)}</p>`;
      pollTimer = setTimeout(jobs, JOB_POLL_MS * 4);  // a busy twin or a lost connection: read again later
    }
  };

  const jobForm = main.querySelector("#job-form");
  followFormat(jobForm);
  jobForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = e.target, status = main.querySelector("#job-status");
    const body = reportOf(ctx, f, "name");
    if (f.from.value) body.from = f.from.value;
    if (f.to.value) body.to = f.to.value;
    status.className = "muted"; status.textContent = t("common.loading");
    try { const job = await post("/api/v1/reports/jobs", body); status.textContent = `${t("reports.job_started")} (${job.id})`; }
    catch (err) { status.className = "error"; status.textContent = err.message; }
    jobs();
  });

  const scheduleStatus = main.querySelector("#schedule-status");
  const act = async (work, done) => {
    scheduleStatus.className = "muted"; scheduleStatus.textContent = t("common.loading");
    try { await work(); scheduleStatus.textContent = done; }
    catch (err) { scheduleStatus.className = "error"; scheduleStatus.textContent = err.message; }
    schedules();
  };
  const schedules = async () => {
    const el = main.querySelector("#schedules");
    if (!el || stopped) return;
    try {
      const page = await get("/api/v1/reports/schedule?page_size=50");
      el.innerHTML = page.schedules.length ? `<table id="schedules-table"><thead><tr><th>${esc(t("reports.name"))}</th><th>${esc(t("reports.report"))}</th><th>${esc(t("reports.when"))}</th><th>${esc(t("reports.recipients"))}</th><th></th></tr></thead><tbody>${page.schedules.map((s) => `
        <tr data-schedule="${s.id}" data-paused="${s.paused}"><td>${esc(s.name)}${s.paused ? ` <span class="muted">(${esc(t("reports.paused"))})</span>` : ""}</td>
          <td>${esc(describe(s.report, s.area))}</td>
          <td>${esc(t("reports." + s.frequency))} ${esc(s.at_time)}${s.weekday !== null ? " · " + esc(t("day." + s.weekday)) : ""}${s.day_of_month !== null ? " · " + num(s.day_of_month) : ""}</td>
          <td>${esc(s.recipients.join(", "))}</td>
          <td class="actions"><button type="button" class="ghost" data-run>${esc(t("reports.run_now"))}</button>
            <button type="button" class="ghost" data-pause>${esc(t(s.paused ? "reports.resume" : "reports.pause"))}</button>
            <button type="button" class="ghost" data-deliveries>${esc(t("reports.deliveries"))}</button>
            <button type="button" class="ghost danger" data-delete>${esc(t("reports.delete"))}</button></td></tr>`).join("")}</tbody></table>`
        : `<p class="empty">${esc(t("reports.no_schedules"))}</p>`;
      const byId = new Map(page.schedules.map((s) => [String(s.id), s]));
      el.querySelectorAll("tr[data-schedule]").forEach((tr) => {
        const s = byId.get(tr.dataset.schedule);
        tr.querySelector("[data-run]").addEventListener("click", () => act(async () => {
          // run now: the schedule's report of its area, built as a job (the schedule itself keeps its times)
          const body = { format: s.report.format };
          if (s.report.format === "csv") Object.assign(body, { kind: s.report.what, district: s.area.district, block: s.area.block, school_id: s.area.school_id });
          else Object.assign(body, { level: s.report.what, name: s.report.what === "school" ? s.area.school_id : s.report.what === "block" ? s.area.block : s.report.what === "district" ? s.area.district : null,
                                     district: s.report.what === "block" ? s.area.district : null });
          for (const k of Object.keys(body)) if (body[k] === null || body[k] === undefined) delete body[k];
          await post("/api/v1/reports/jobs", body);
          jobs();
        }, t("reports.job_started")));
        tr.querySelector("[data-pause]").addEventListener("click", () => act(
          () => post(`/api/v1/reports/schedule/${s.id}/${s.paused ? "resume" : "pause"}`), t(s.paused ? "reports.resumed" : "reports.paused")));
        tr.querySelector("[data-delete]").addEventListener("click", () => {
          if (confirm(`${t("reports.delete_confirm")} ${s.name}?`)) act(() => del(`/api/v1/reports/schedule/${s.id}`), t("reports.deleted"));
        });
        tr.querySelector("[data-deliveries]").addEventListener("click", () => deliveries(s));
      });
    } catch (e) { el.innerHTML = `<p class="error">${esc(e.message)}</p>`; }
  };
  const deliveries = async (s) => {
    const el = main.querySelector("#deliveries");
    el.hidden = false;
    el.innerHTML = `<p class="loading">${esc(t("common.loading"))}</p>`;
    try {
      const page = await get(`/api/v1/reports/schedule/${s.id}/deliveries?page_size=20`);
      el.innerHTML = `<h2>${esc(t("reports.deliveries"))}: ${esc(s.name)}</h2>` + (page.deliveries.length ? `<table id="deliveries-table"><thead><tr><th>${esc(t("col.date"))}</th><th>${esc(t("opt.status"))}</th><th class="num">${esc(t("reports.attempts"))}</th><th>${esc(t("col.detail"))}</th></tr></thead><tbody>${page.deliveries.map((d) =>
        `<tr><td>${esc(d.period)}</td><td>${esc(d.status)}</td><td class="num">${num(d.attempts)}</td><td>${esc(d.last_error || (d.sent_at ? date(d.sent_at) : ""))}</td></tr>`).join("")}</tbody></table>`
        : `<p class="empty">${esc(t("reports.no_deliveries"))}</p>`);
    } catch (e) { el.innerHTML = `<p class="error">${esc(e.message)}</p>`; }
  };

  const scheduleForm = main.querySelector("#schedule-form");
  const showFormat = followFormat(scheduleForm);
  const followFrequency = () => scheduleForm.querySelectorAll("[data-when]").forEach((el) => { el.hidden = el.dataset.when !== scheduleForm.frequency.value; });
  scheduleForm.frequency.addEventListener("change", followFrequency);
  followFrequency();
  scheduleForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = e.target, status = main.querySelector("#schedule-form-status");
    const body = { name: f.name.value.trim(), ...reportOf(ctx, f, "place"), frequency: f.frequency.value, at_time: f.at_time.value,
                   recipients: f.recipients.value.split(/[,;\s]+/).map((x) => x.trim()).filter(Boolean) };
    if (body.frequency === "weekly") body.weekday = Number(f.weekday.value);
    if (body.frequency === "monthly") body.day_of_month = Number(f.day_of_month.value);
    status.className = "muted"; status.textContent = t("common.loading");
    try { const s = await post("/api/v1/reports/schedule", body); status.textContent = `${t("reports.scheduled")}: ${s.name}`; f.reset(); showFormat(); followFrequency(); }
    catch (err) {
      status.className = "error";
      // a 422 names its fields: show which, as the API put it
      const fields = (err.details.fields || []).map((x) => `${x.field}: ${x.message}`).join("; ");
      status.textContent = fields ? `${err.message} (${fields})` : err.message;
    }
    schedules();
  });

  jobs();
  schedules();
  return () => { stopped = true; clearTimeout(pollTimer); };
}
