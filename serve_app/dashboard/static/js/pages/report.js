// My school (a school admin's page, usable on a phone): today's attendance and meals by class
// band or the reason for no meal, a shortage, a delivery received. Reports wait on the device when
// the connection is down and are sent when it returns; the page lists what still waits, and shows
// the twin's answer (stock days, risk) once a report is in.
import { get } from "../api.js";
import { esc, num } from "../format.js";
import { t } from "../i18n.js";
import { flush, newEventId, onChange, submit, waiting } from "../outbox.js";

const NO_MEAL_REASONS = ["", "meals_not_served", "food_grains_not_available", "funds_not_available", "cook_not_available", "holiday"];

export async function render(main, ctx) {
  const schoolId = ctx.places.area.school_id;
  if (!schoolId) { main.innerHTML = `<div class="card"><p>${esc(t("report.only_school"))}</p></div>`; return () => {}; }
  const today = new Date().toISOString().slice(0, 10);
  main.innerHTML = `
    <h1>${esc(t("nav.my_school"))} · ${esc(schoolId)}</h1>
    <section class="figures" id="answer"></section>
    <div class="layout">
      <form class="card stack" id="attendance">
        <h2>${esc(t("report.title"))}</h2>
        <label>${esc(t("report.date"))}<input type="date" name="date" value="${today}" required></label>
        <label>${esc(t("report.present"))}<input type="number" name="present" min="0" max="20000" required></label>
        <div class="row">
          <label>${esc(t("report.primary"))}<input type="number" name="primary" min="0" value="0"></label>
          <label>${esc(t("report.upper"))}<input type="number" name="upper_primary" min="0" value="0"></label>
          <label>${esc(t("report.secondary"))}<input type="number" name="secondary" min="0" value="0"></label>
        </div>
        <label>${esc(t("report.no_meal"))}<select name="no_meal_reason">${NO_MEAL_REASONS.map((r) => `<option value="${r}">${esc(r ? t("reason." + r) : "—")}</option>`).join("")}</select></label>
        <button type="submit">${esc(t("report.send"))}</button>
        <p class="muted" role="status" id="attendance-status"></p>
      </form>
      <section class="grid">
        <form class="card stack" id="shortage">
          <h2>${esc(t("report.shortage"))}</h2>
          <label>${esc(t("report.item"))}<select name="item">${["rice", "pulses", "oil", "eggs", "vegetables", "fuel", "cook", "funds"].map((i) => `<option value="${i}">${esc(t("item." + i))}</option>`).join("")}</select></label>
          <label>${esc(t("report.note"))}<input name="note" maxlength="500"></label>
          <button type="submit">${esc(t("report.shortage"))}</button>
        </form>
        <form class="card stack" id="delivery">
          <h2>${esc(t("report.delivery"))}</h2>
          <div class="row"><label>${esc(t("report.rice"))}<input type="number" name="rice_kg" min="0" step="0.1" value="0"></label><label>${esc(t("report.pulses"))}<input type="number" name="pulses_kg" min="0" step="0.1" value="0"></label></div>
          <div class="row"><label>${esc(t("report.oil"))}<input type="number" name="oil_kg" min="0" step="0.1" value="0"></label><label>${esc(t("report.eggs"))}<input type="number" name="eggs" min="0" value="0"></label></div>
          <button type="submit">${esc(t("report.delivery"))}</button>
        </form>
        <div class="card queue" id="outbox" hidden></div>
      </section>
    </div>`;

  const status = main.querySelector("#attendance-status");
  const showAnswer = async () => {
    if (!main.querySelector("#answer")) return;  // the reader has moved on
    try {
      const [twin, risk] = await Promise.all([get(`/api/v1/twin/schools/${schoolId}`), get(`/api/v1/predictions/risk/${schoolId}`).catch(() => null)]);
      const el = main.querySelector("#answer");
      if (!el) return;
      el.innerHTML = `
        <div class="figure" data-figure="stock"><div class="label">${esc(t("fig.stock"))}</div><div class="value">${num(twin.stock_days, 1)} ${esc(t("fig.stock_days"))}</div></div>
        <div class="figure" data-figure="last-report"><div class="label">${esc(t("school.last_report"))}</div><div class="value">${esc(twin.last_report_date || "–")}</div></div>
        ${risk ? `<div class="figure" data-figure="risk"><div class="label">${esc(t("col.risk"))}</div><div class="value"><span class="level ${risk.level}">${esc(t("level." + risk.level))}</span> ${num(risk.score, 0)}</div></div>` : ""}`;
    } catch (e) { const el = main.querySelector("#answer"); if (el) el.innerHTML = `<p class="muted">${esc(e.message)}</p>`; }
  };
  const showOutbox = (events = waiting()) => {
    const el = main.querySelector("#outbox");
    if (!el) return;
    el.hidden = !events.length;
    el.innerHTML = `<h2>${esc(t("report.waiting"))}: <span id="waiting-count">${events.length}</span></h2><ul>${events.map((e) => `<li>${esc(e.type.replace(/_/g, " "))} · ${esc(e.date)}</li>`).join("")}</ul>`;
  };
  const send = async (events, form) => {
    const answer = await submit(events);
    if (!answer) { status.textContent = `${t("report.waiting")}.`; return; }
    const problems = (answer.data?.results || []).filter((r) => r.status === "rejected");
    status.textContent = problems.length ? problems.map((p) => p.errors?.map((e) => e.message).join("; ") || p.reason || "rejected").join(" · ") : t("report.sent");
    if (!problems.length && form) form.reset();
    showAnswer();
  };

  main.querySelector("#attendance").addEventListener("submit", (e) => {
    e.preventDefault();
    const f = e.target;
    const reason = f.no_meal_reason.value;
    const event = { type: "attendance_reported", event_id: newEventId(), date: f.date.value, school_id: schoolId, present: Number(f.present.value),
                    meals_served: { primary: Number(f.primary.value), upper_primary: Number(f.upper_primary.value), secondary: Number(f.secondary.value) } };
    if (reason) event.no_meal_reason = reason;
    send([event], null);
  });
  main.querySelector("#shortage").addEventListener("submit", (e) => {
    e.preventDefault();
    const f = e.target;
    send([{ type: "shortage_reported", event_id: newEventId(), date: today, school_id: schoolId, item: f.item.value, note: f.note.value || null }], f);
  });
  main.querySelector("#delivery").addEventListener("submit", (e) => {
    e.preventDefault();
    const f = e.target;
    send([{ type: "stock_delivered", event_id: newEventId(), date: today, school_id: schoolId, rice_kg: Number(f.rice_kg.value),
            pulses_kg: Number(f.pulses_kg.value), oil_kg: Number(f.oil_kg.value), eggs: Number(f.eggs.value) }], f);
  });
  const off = onChange(showOutbox);
  const online = () => flush().then((a) => { if (a) { status.textContent = t("report.sent"); showAnswer(); } });
  window.addEventListener("online", online);
  showOutbox();
  showAnswer();
  flush();
  return () => { off(); window.removeEventListener("online", online); };
}
