// Downloads of the caller's area: CSV exports (schools, attendance, alerts, risk) and the PDF
// report of a district, block or school. Fetched with the session's token, saved as a file.
import { download } from "../api.js";
import { esc } from "../format.js";
import { t } from "../i18n.js";

export async function render(main, ctx) {
  const a = ctx.places.area;
  const pdfLevel = a.kind === "state" ? "district" : a.kind;
  main.innerHTML = `<h1>${esc(t("reports.title"))}</h1>
    <div class="layout">
      <form class="card stack" id="csv-form"><h2>CSV</h2>
        <label>${esc(t("reports.kind"))}<select name="kind"><option>schools</option><option>attendance</option><option>alerts</option><option>risk</option></select></label>
        <button type="submit">${esc(t("reports.csv"))}</button><p role="status" class="muted" id="csv-status"></p></form>
      <form class="card stack" id="pdf-form"><h2>PDF</h2>
        ${pdfLevel === "district" ? `<label>${esc(t("col.district"))}<select name="name">${ctx.places.districts.map((d) => `<option ${d.name === a.district ? "selected" : ""}>${esc(d.name)}</option>`).join("")}</select></label>` : ""}
        <button type="submit">${esc(t("reports.pdf"))}</button><p role="status" class="muted" id="pdf-status"></p></form>
    </div>`;
  const save = async (url, statusEl) => {
    statusEl.textContent = t("common.loading");
    try {
      const { blob, filename } = await download(url);
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob); link.download = filename;
      document.body.appendChild(link); link.click(); link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
      statusEl.textContent = `${filename} (${Math.round(blob.size / 1024)} KB)`;
    } catch (e) { statusEl.textContent = e.message; statusEl.className = "error"; }
  };
  main.querySelector("#csv-form").addEventListener("submit", (e) => { e.preventDefault(); save(`/api/v1/reports/export/csv?kind=${e.target.kind.value}`, main.querySelector("#csv-status")); });
  main.querySelector("#pdf-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const q = pdfLevel === "district" ? `level=district&name=${encodeURIComponent(e.target.name.value)}`
      : pdfLevel === "block" ? `level=block&name=${encodeURIComponent(a.block)}&district=${encodeURIComponent(a.district)}` : `level=school&name=${a.school_id}`;
    save(`/api/v1/reports/export/pdf?${q}`, main.querySelector("#pdf-status"));
  });
  return () => {};
}
