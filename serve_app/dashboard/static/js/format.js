// Numbers as India writes them: lakh and crore grouping (12,34,567), rupees, and large amounts
// in lakh or crore words.
import { lang, t } from "./i18n.js";

const locale = () => (lang() === "ta" ? "ta-IN" : "en-IN");

export function num(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(value);
}

export function pct(share, digits = 0) {
  if (share === null || share === undefined || !Number.isFinite(share)) return "–";
  return `${num(share * 100, digits)}%`;
}

/** ₹ with Indian grouping; amounts of a lakh and more in lakh or crore. */
export function inr(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  const abs = Math.abs(value);
  if (abs >= 1e7) return `₹${num(value / 1e7, 2)} ${t("unit.crore")}`;
  if (abs >= 1e5) return `₹${num(value / 1e5, 2)} ${t("unit.lakh")}`;
  return `₹${num(value, 0)}`;
}

export function date(iso) {
  if (!iso) return "–";
  const d = new Date(iso.length === 10 ? iso + "T00:00:00" : iso);
  return new Intl.DateTimeFormat(locale(), iso.length === 10 ? { dateStyle: "medium" } : { dateStyle: "medium", timeStyle: "short" }).format(d);
}

/** Text safe to put in HTML. */
export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
