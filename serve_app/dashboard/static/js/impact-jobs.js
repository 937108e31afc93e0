// The optimisation centre's background impact jobs: a recommendation's impact started as a job
// (the API answers 202 at once), its status, stage and time polled while it runs, its result shown
// with 95% intervals once done, and its error once failed. The list is the twin's (the jobs the
// signed-in user started, from any tab or device); the tab also remembers the school of each job it
// started (sessionStorage), which the twin's list names only by the recommendation.
import { get, post } from "./api.js";
import { esc, num } from "./format.js";
import { t, tOr } from "./i18n.js";
import { impactHtml } from "./impact.js";
import { session } from "./session.js";

const POLL_MS = 1500;
const KEPT = 20;  // the newest jobs listed; older ones are forgotten by the page, not by the twin
const ACTIVE = new Set(["queued", "running"]);

function storageKey() { return `mealtwin.impactJobs.${session()?.user?.email || ""}`; }
function remembered() { try { return JSON.parse(sessionStorage.getItem(storageKey())) || []; } catch { return []; } }
function remember(jobs) { sessionStorage.setItem(storageKey(), JSON.stringify(jobs.slice(0, KEPT))); }

/** The jobs panel in `card`; `start(rec)` opens the form starting one for a recommendation. */
export function impactJobsPanel(card) {
  let jobs = remembered();       // [{id, rec, school}], newest first
  const seen = new Map();        // job id -> the job as last read, or {status: "gone"}
  let showing = null;            // the job whose result or error is shown
  let timer = null, polling = false, stopped = false;
  card.innerHTML = `<h2>${esc(t("jobs.title"))}</h2><div id="impact-job-start"></div>
    <div class="table-wrap" id="impact-jobs"></div><div id="impact-job-result" hidden></div>`;
  const listEl = card.querySelector("#impact-jobs"), resultEl = card.querySelector("#impact-job-result");

  const draw = () => {
    if (!listEl.isConnected) return;
    listEl.innerHTML = jobs.length ? `<table id="impact-jobs-table"><thead><tr><th>${esc(t("col.school"))}</th><th>${esc(t("jobs.what"))}</th><th>${esc(t("opt.status"))}</th><th>${esc(t("jobs.progress"))}</th><th></th></tr></thead><tbody>${
      jobs.map((j) => {
        const job = seen.get(j.id), status = job?.status || "queued", req = job?.request || j.request || {};
        const progress = job?.progress || {};
        const note = status === "failed" ? `<span class="error">${esc(job.error || "")}</span>`
          : status === "gone" ? `<span class="error">${esc(t("jobs.gone"))}</span>`
          : `${esc(tOr("jobs.stage." + (progress.stage || status), progress.stage || status))}${progress.elapsed_s != null ? ` · ${num(progress.elapsed_s, 1)} s` : ""}`;
        return `<tr data-job="${esc(j.id)}" data-status="${esc(status)}"><td>${esc(j.school)}</td>
          <td>${num(req.replications)} ${esc(t("opt.replications"))} · ${num(req.horizon_days)} ${esc(t("jobs.days"))}${req.stress ? " · " + esc(t("jobs.stress")) : ""}</td>
          <td>${esc(tOr("jobs.status." + status, status))}</td><td data-progress>${note}</td>
          <td class="actions">${status === "done" ? `<button type="button" class="ghost" data-result>${esc(t("jobs.result"))}</button>` : ""}</td></tr>`;
      }).join("")}</tbody></table>` : `<p class="empty">${esc(t("jobs.none"))}</p>`;
    listEl.querySelectorAll("[data-result]").forEach((b) => b.addEventListener("click", () => show(b.closest("tr").dataset.job)));
  };

  const show = (id) => {
    const job = seen.get(id);
    if (!job || job.status !== "done" || !resultEl.isConnected) return;
    showing = id;
    resultEl.hidden = false;
    resultEl.dataset.job = id;
    resultEl.innerHTML = impactHtml(job.result);
  };

  // one read of every job still running; again in POLL_MS while any is
  const running = () => jobs.some((j) => ACTIVE.has(seen.get(j.id)?.status || "queued"));
  const schedule = () => { if (!stopped && !timer && !polling && running()) timer = setTimeout(poll, POLL_MS); };
  const poll = async () => {
    timer = null;
    polling = true;
    const active = jobs.filter((j) => ACTIVE.has(seen.get(j.id)?.status || "queued"));
    await Promise.all(active.map(async (j) => {
      try {
        const job = await get(`/api/v1/optimization/impact/jobs/${j.id}`);
        const was = seen.get(j.id)?.status;
        seen.set(j.id, job);
        if (job.status === "done" && was !== "done" && (showing === null || showing === j.id || j.id === jobs[0].id)) show(j.id);
      } catch (e) {
        if (e.status === 404) seen.set(j.id, { status: "gone" });  // its database was reset, or it is outside the area now
        // else a busy twin (503) or a lost connection: read again at the next poll
      }
    }));
    polling = false;
    if (stopped) return;
    draw();
    schedule();
  };

  const start = (rec) => {
    const el = card.querySelector("#impact-job-start");
    el.innerHTML = `<form class="stack" id="impact-job-form" data-rec="${esc(rec.id)}"><p>${esc(t("jobs.for"))} ${esc(rec.school_id)}</p>
      <div class="row"><label>${esc(t("jobs.horizon"))}<input type="number" name="horizon_days" min="5" max="60" value="20" required></label>
        <label>${esc(t("jobs.replications"))}<input type="number" name="replications" min="2" max="200" value="20" required></label>
        <label class="check"><input type="checkbox" name="stress" checked> ${esc(t("jobs.stress"))}</label></div>
      <div class="row"><button type="submit">${esc(t("jobs.start"))}</button><button type="button" class="ghost" data-cancel>${esc(t("common.back"))}</button></div>
      <p role="status" class="muted" id="impact-job-status"></p></form>`;
    el.querySelector("[data-cancel]").addEventListener("click", () => { el.innerHTML = ""; });
    el.querySelector("form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const f = e.target, status = el.querySelector("#impact-job-status");
      const query = new URLSearchParams({ horizon_days: f.horizon_days.value, replications: f.replications.value, stress: String(f.stress.checked) });
      status.className = "muted"; status.textContent = t("common.loading");
      try {
        const job = await post(`/api/v1/optimization/impact/${rec.id}/jobs?${query}`);
        seen.set(job.id, job);
        jobs = [{ id: job.id, rec: rec.id, school: rec.school_id, request: job.request }, ...jobs];
        remember(jobs);
        showing = null;
        resultEl.hidden = true;
        status.textContent = t("jobs.started");
        draw();
        schedule();
      } catch (err) {
        status.className = "error";  // 422 names the parameter out of range, 404 a recommendation gone
        status.textContent = err.message;
      }
    });
    el.querySelector("input").focus();
  };

  // the twin's list of this user's jobs: started elsewhere too, and their status as it holds it now
  const load = async () => {
    try {
      const listed = await get("/api/v1/optimization/impact/jobs");
      const schools = new Map(jobs.map((j) => [j.id, j.school]));
      listed.forEach((job) => seen.set(job.id, job));
      const known = new Set(listed.map((job) => job.id));
      // a remembered job the twin does not list is read once more: older than the list, or gone
      jobs = [...listed.map((job) => ({ id: job.id, rec: job.recommendation_id, request: job.request,
        school: schools.get(job.id) || (job.run_id ? `${t("jobs.whole_run")} ${job.run_id.slice(0, 8)}` : job.recommendation_id.slice(0, 8)) })),
        ...jobs.filter((j) => !known.has(j.id))];
      remember(jobs);
    } catch {
      // a busy twin or a lost connection: follow the jobs this tab remembers
    }
    if (stopped) return;
    draw();
    listEl.dataset.loaded = "true";
    if (jobs.length) poll();
  };

  draw();
  load();
  return { start, stop: () => { stopped = true; clearTimeout(timer); } };
}
