// A simulated impact as the optimisation API answers it (GET /optimization/impact/{id}, or a done
// impact job's result): each plan's figures with their 95% intervals, and the ratios to no action.
import { esc, num } from "./format.js";
import { t, tOr } from "./i18n.js";

export function impactHtml(a) {
  const band = (v) => (v && typeof v === "object" ? `${num(v.mean, 1)} <span class="muted">[${num(v.low, 1)} – ${num(v.high, 1)}]</span>` : num(v, 1));
  const plans = Object.entries(a.plans || {});
  const metrics = [...new Set(plans.flatMap(([, m]) => Object.keys(m)))];
  const ratios = Object.entries(a.ratios || {});
  return `<h2>${esc(t("opt.impact"))}</h2>
    <p class="muted">${num(a.replications)} ${esc(t("opt.replications"))} · ${num(a.horizon_days)} ${esc(t("fig.stock_days"))} · ${num(a.schools)} ${esc(t("col.schools"))}${a.stress ? " · " + esc(t("opt.stress")) : ""}</p>
    <div class="table-wrap"><table id="impact-table"><thead><tr><th>${esc(t("opt.plan"))}</th>${metrics.map((m) => `<th class="num">${esc(tOr("kpi." + m, m.replace(/_/g, " ")))}</th>`).join("")}</tr></thead><tbody>${
      plans.map(([name, m]) => `<tr data-plan="${esc(name)}"><td>${esc(tOr("plan." + name, name))}</td>${metrics.map((k) => `<td class="num" data-metric="${esc(k)}">${band(m[k])}</td>`).join("")}</tr>`).join("")}</tbody></table></div>
    ${ratios.length ? `<h2>${esc(t("opt.ratios"))}</h2><table id="impact-ratios"><tbody>${ratios.map(([k, v]) => `<tr><td>${esc(k.replace(/_/g, " "))}</td><td class="num">${v ? band(v) : "–"}</td></tr>`).join("")}</tbody></table>` : ""}`;
}
