// The headline figures of an area (state, district or block view of the twin) and its schools by
// risk level, as cards that update in place when the live stream moves them.
import { esc, inr, num, pct } from "./format.js";
import { t } from "./i18n.js";
import { LEVELS } from "./map-data.js";

export function figuresHtml(view, counts) {
  const cards = [];
  const card = (key, label, value, sub = "") =>
    cards.push(`<div class="figure" data-figure="${key}"><div class="label">${esc(label)}</div><div class="value">${value}</div><div class="sub">${sub}</div></div>`);
  if (view) {
    card("reporting", t("fig.reporting"), `${num(view.reported_today)} / ${num(view.schools)}`,
         `${num(view.stale)} ${esc(t("fig.stale"))}`);
    card("meals", t("fig.meals"), num(view.meals_today));
    card("fed", t("fig.fed"), pct(view.enrolment ? view.meals_today / view.enrolment : null),
         `${num(view.meals_today)} / ${num(view.enrolment)}`);
    card("stock", t("fig.stock"), `${num(view.stock_days, 1)} ${esc(t("fig.stock_days"))}`, `${num(view.stock_kg?.rice, 0)} kg`);
    const funds = view.funds || {};
    card("funds", t("fig.funds"), inr(funds.school_balance_inr ?? funds.balance_inr));
  }
  if (counts) {
    card("risk", t("fig.risk"), `<span class="levels">${LEVELS.map((l, k) =>
      `<span class="level ${l}" data-level="${l}" title="${esc(t("level." + l))}">${num(counts[k])}</span>`).join("")}</span>`);
  }
  return cards.join("");
}
