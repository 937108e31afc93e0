// A small line chart on a canvas: the daily meals with, when there is one, the forecast's P10-P90
// band after the last day. No library: a few paths.

export function drawChart(canvas, days, forecast) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  canvas.width = w * dpr; canvas.height = h * dpr;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const values = days.map((d) => d.value ?? 0);
  const band = forecast || [];
  const all = values.concat(band.map((f) => f.p90 ?? f.value ?? 0));
  const max = Math.max(1, ...all);
  const n = values.length + band.length;
  if (!n) return;
  const left = 36, bottom = 20, x = (k) => left + (k / Math.max(1, n - 1)) * (w - left - 8), y = (v) => 6 + (1 - v / max) * (h - bottom - 6);
  ctx.strokeStyle = "#d8dee6"; ctx.fillStyle = "#5b6775"; ctx.font = "11px system-ui, \"Mealtwin Tamil\", sans-serif";
  for (const v of [0, max / 2, max]) { ctx.beginPath(); ctx.moveTo(left, y(v)); ctx.lineTo(w - 8, y(v)); ctx.stroke(); ctx.fillText(String(Math.round(v)), 2, y(v) + 4); }
  if (band.length) {
    const k0 = values.length;
    ctx.fillStyle = "rgba(230,159,0,.25)"; ctx.beginPath();
    band.forEach((f, k) => (k ? ctx.lineTo(x(k0 + k), y(f.p90)) : ctx.moveTo(x(k0 + k), y(f.p90))));
    for (let k = band.length - 1; k >= 0; k--) ctx.lineTo(x(k0 + k), y(band[k].p10));
    ctx.closePath(); ctx.fill();
    ctx.strokeStyle = "#E69F00"; ctx.setLineDash([4, 3]); ctx.beginPath();
    band.forEach((f, k) => (k ? ctx.lineTo(x(k0 + k), y(f.p50 ?? f.value)) : ctx.moveTo(x(k0 + k), y(f.p50 ?? f.value))));
    ctx.stroke(); ctx.setLineDash([]);
  }
  ctx.strokeStyle = "#0072B2"; ctx.lineWidth = 2; ctx.beginPath();
  values.forEach((v, k) => (k ? ctx.lineTo(x(k), y(v)) : ctx.moveTo(x(k), y(v))));
  ctx.stroke(); ctx.lineWidth = 1;
}
