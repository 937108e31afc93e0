// The alerts drawer: the area's open alerts, the unread count on the header's button, mark-read,
// and new alerts arriving live from the alerts stream (resumed after a lost connection).
import { get, post } from "./api.js";
import { date, esc } from "./format.js";
import { t, tf, tOr } from "./i18n.js";
import { LiveStream } from "./stream.js";

// A burst of alerts (hundreds a second when a district's stock runs low at once) asks for the
// unread count once a second and redraws the drawer once a frame, not once an alert.
const COUNT_EVERY_MS = 1000;

export class AlertsDrawer {
  constructor(button, drawer) {
    this.button = button; this.drawer = drawer; this.items = [];
    button.hidden = false;
    this.toggle = () => this.setOpen(this.drawer.hidden);
    button.addEventListener("click", this.toggle);
    this.refreshCount();
    this.stream = new LiveStream("/api/v1/ws/alerts", {
      // the button says when new alerts arrive by themselves: from the stream's live notice on
      onStatus: (status) => { if (status !== "live") delete this.button.dataset.live; },
      onMessage: (m) => {
        if (m.type === "notice" && m.data?.live) this.button.dataset.live = "true";
        if (m.type !== "alert") return;
        const a = m.data;
        if (a.kind === "alert") {  // a stored alert raised, escalated (same id) or resolved (gone)
          this.items = this.items.filter((x) => !(x.id && x.id === a.id) && !(a.change === "resolved" && x.subject === a.subject && x.alert_type === a.alert_type));
          if (a.change !== "resolved") this.items.unshift(a);
        } else {
          this.items.unshift(a);  // a report or a reading of the moment: shown, not stored
        }
        this.countSoon();
        if (!this.drawer.hidden) this.drawSoon();
      },
    });
  }

  countSoon() {
    if (this.countTimer) return;
    const wait = Math.max(0, (this.lastCount || 0) + COUNT_EVERY_MS - Date.now());
    this.countTimer = setTimeout(() => { this.countTimer = null; this.refreshCount(); }, wait);
  }

  drawSoon() {
    if (this.drawFrame) return;
    this.drawFrame = requestAnimationFrame(() => { this.drawFrame = null; if (!this.drawer.hidden) this.draw(); });
  }

  async refreshCount() {
    this.lastCount = Date.now();
    const asked = this.countAsked = (this.countAsked || 0) + 1;
    try {
      const c = await get("/api/v1/alerts/unread-count");
      if (asked !== this.countAsked) return;  // a later count is on its way: an earlier answer must not overwrite it
      const badge = this.button.querySelector("#unread");
      badge.textContent = String(c.total);
      badge.className = "badge" + (c.total ? "" : " zero");
    } catch { /* the count is a convenience: the drawer itself says what failed */ }
  }

  async setOpen(open) {
    this.drawer.hidden = !open;
    this.button.setAttribute("aria-expanded", String(open));
    if (!open) return;
    this.drawer.innerHTML = `<p class="loading">${esc(t("common.loading"))}</p>`;
    try {
      this.items = (await get("/api/v1/alerts?status=open&page_size=50")).alerts;
      this.draw();
    } catch (e) { this.drawer.innerHTML = `<p class="error">${esc(e.message)}</p>`; }
  }

  draw() {
    this.drawer.innerHTML = `<div class="row"><h2>${esc(t("alerts.title"))}</h2><span class="spacer"></span><button class="ghost" type="button" id="close-alerts">×</button></div>` +
      (this.items.length ? this.items.map((a) => `
        <div class="alert-item ${a.is_read ? "" : "unread"}" data-alert="${a.id ?? ""}">
          <div><span class="severity ${esc(severity(a))}">${esc(severity(a))}</span> <span class="title">${esc(title(a))}</span></div>
          <div class="muted">${esc(detail(a))}</div>
          <div class="muted">${esc([a.district, a.block].filter(Boolean).join(" / "))} ${a.school_id ? `· <a href="#/school/${esc(a.school_id)}">${esc(a.school_id)}</a>` : ""} · ${esc(date(a.updated_at || a.created_at || a.date))}</div>
          ${a.id && !a.is_read ? `<button class="ghost" type="button" data-read="${a.id}">${esc(t("alerts.mark_read"))}</button>` : ""}
        </div>`).join("") : `<p class="empty">${esc(t("alerts.none"))}</p>`);
    this.drawer.querySelector("#close-alerts").onclick = () => this.setOpen(false);
    this.drawer.querySelectorAll("[data-read]").forEach((b) => b.addEventListener("click", async () => {
      b.disabled = true;
      try {
        await post(`/api/v1/alerts/mark-read/${b.dataset.read}`);
        const item = this.items.find((a) => String(a.id) === b.dataset.read);
        if (item) item.is_read = true;
        this.draw(); this.refreshCount();
      } catch (e) { b.disabled = false; b.textContent = e.message; }
    }));
  }

  close() { clearTimeout(this.countTimer); cancelAnimationFrame(this.drawFrame); this.stream.close(); this.drawer.hidden = true; this.button.hidden = true; this.button.removeEventListener("click", this.toggle); }
}

// The alerts stream carries stored alerts (`kind: alert`) and what the shards see at the moment:
// a low rice stock, a shortage reported, a closure. Each is worded for the drawer here.
function severity(a) {
  return a.severity || { low_stock: "high", shortage_reported: "medium", school_closed: "notice" }[a.kind] || "notice";
}

function title(a) {
  if (a.title) return a.title;
  if (a.kind === "low_stock") return tf("alert.low_stock", { days: a.below_days });
  if (a.kind === "shortage_reported") return tf("alert.shortage", { item: tOr("item." + a.item, a.item) });
  if (a.kind === "school_closed") return tf("alert.closed", { reason: tOr("scen.closure." + a.reason, a.reason || ""), to: a.to });
  return (a.alert_type || "alert").replace(/_/g, " ");
}

function detail(a) {
  if (a.message) return a.message;
  if (a.kind === "low_stock") return tf("alert.stock_left", { days: a.stock_days, kg: a.rice_kg });
  if (a.kind === "school_closed") return tf("alert.closure_of", { scope: tOr("reports.level." + a.scope, a.scope) });
  return "";
}
