// The map of schools on a Canvas 2D: every school a dot coloured (and sized) by its risk level,
// district outlines drawn as the hulls of their schools (no external map), pan with drag, zoom
// with the wheel or +/- keys, hover for a school, click to open it. The whole state's 43,000
// dots redraw in a few milliseconds, so a recolour is a redraw.
import { LEVELS, schoolCode } from "./map-data.js";

const COLOURS = ["#56B4E9", "#E8D44D", "#E69F00", "#D55E00"];
const RADIUS = [1.6, 2.0, 2.6, 3.2];  // the level is told by size as well as colour
// the colours as 32-bit pixels (RGBA bytes in memory: little-endian ABGR words)
const PIXEL = COLOURS.map((c) => (0xff000000 | (parseInt(c.slice(5, 7), 16) << 16) | (parseInt(c.slice(3, 5), 16) << 8) | parseInt(c.slice(1, 3), 16)) >>> 0);

export class SchoolMap {
  constructor(canvas, { onOpen = () => {}, describe = () => "" } = {}) {
    this.canvas = canvas; this.onOpen = onOpen; this.describe = describe;
    this.ctx = canvas.getContext("2d");
    this.map = null; this.visible = null; this.hulls = [];
    this.zoom = 1; this.panX = 0; this.panY = 0;
    this.tip = document.createElement("div");
    this.tip.className = "map-tip"; this.tip.hidden = true;
    canvas.parentElement.appendChild(this.tip);
    this.resizeObserver = new ResizeObserver(() => this.draw());
    this.resizeObserver.observe(canvas);
    this.listen();
  }

  /** `keep(i)`: which schools of the map this view shows (its area). */
  setData(map, keep = () => true, outlineBy = "district") {
    this.map = map;
    const idx = [];
    for (let i = 0; i < map.n; i++) if (keep(i)) idx.push(i);
    this.visible = Uint32Array.from(idx);
    this.fit();
    this.hulls = hulls(map, this.visible, outlineBy === "block" ? map.block : map.district);
    this.viewKey = null;
    this.draw();
  }

  recolour(levels) { this.map.level.set(levels); this.draw(); }

  /** Only the schools at `index` change level. */
  recolourSome(index, level) {
    for (let k = 0; k < index.length; k++) this.map.level[index[k]] = level[k];
    if (index.length) this.draw();
  }

  fit() {
    const { lat, lon } = this.map;
    let a = Infinity, b = -Infinity, c = Infinity, d = -Infinity;
    for (const i of this.visible) { a = Math.min(a, lon[i]); b = Math.max(b, lon[i]); c = Math.min(c, lat[i]); d = Math.max(d, lat[i]); }
    if (!this.visible.length) { a = 76; b = 80.5; c = 8; d = 13.6; }
    const pad = Math.max(0.02, (b - a) * 0.04, (d - c) * 0.04);
    this.bounds = { west: a - pad, east: b + pad, south: c - pad, north: d + pad };
    this.cosLat = Math.cos(((c + d) / 2) * Math.PI / 180);
    this.zoom = 1; this.panX = 0; this.panY = 0;
  }

  project() {
    const w = this.canvas.clientWidth, h = this.canvas.clientHeight;
    const { west, east, south, north } = this.bounds;
    const scale = Math.min(w / ((east - west) * this.cosLat), h / (north - south)) * this.zoom;
    const ox = (w - (east - west) * this.cosLat * scale) / 2 + this.panX;
    const oy = (h - (north - south) * scale) / 2 + this.panY;
    return { x: (lon) => ox + (lon - west) * this.cosLat * scale, y: (lat) => oy + (north - lat) * scale };
  }

  draw() {
    if (!this.map) return;
    const started = performance.now();
    const dpr = window.devicePixelRatio || 1;
    const w = this.canvas.clientWidth, h = this.canvas.clientHeight;
    const W = Math.round(w * dpr), H = Math.round(h * dpr);
    if (!W || !H) return;
    if (this.canvas.width !== W || this.canvas.height !== H) { this.canvas.width = W; this.canvas.height = H; }
    const view = `${W}x${H}|${this.zoom}|${this.panX}|${this.panY}|${dpr}|${this.visible.length}`;
    if (view !== this.viewKey) this.layout(view, dpr, w, h, W, H);
    // The dots are written as pixels over the outlines' image: 43,000 of them in a few
    // milliseconds, where as many fillRect calls take a tenth of a second without a GPU.
    const { level } = this.map, { xs, ys } = this, pixels = this.pixels, buf = this.buf32;
    buf.set(this.base);
    const zoomBoost = Math.min(2.5, Math.sqrt(this.zoom));
    const counts = [0, 0, 0, 0];
    for (let lv = 0; lv < 4; lv++) {  // low first, so the worst are drawn on top
      const colour = PIXEL[lv], r = Math.max(1, Math.round(RADIUS[lv] * zoomBoost * dpr));
      for (let k = 0; k < this.visible.length; k++) {
        if (level[this.visible[k]] !== lv) continue;
        counts[lv]++;
        const x0 = Math.max(0, Math.round(xs[k]) - r), x1 = Math.min(W, Math.round(xs[k]) + r);
        const y0 = Math.max(0, Math.round(ys[k]) - r), y1 = Math.min(H, Math.round(ys[k]) + r);
        for (let y = y0; y < y1; y++) buf.fill(colour, y * W + x0, y * W + x1);
      }
    }
    this.ctx.putImageData(pixels, 0, 0);
    this.drawn = counts.reduce((a, b) => a + b, 0);
    this.counts = counts;
    this.lastFrameMs = performance.now() - started;
    // what the page shows, readable by tests and assistive tools alike
    this.canvas.dataset.schoolsDrawn = String(this.drawn);
    this.canvas.dataset.levels = counts.join(",");
    this.canvas.setAttribute("aria-label", `${this.drawn} schools: ` + LEVELS.map((l, k) => `${counts[k]} ${l}`).join(", "));
    this.canvas.dispatchEvent(new CustomEvent("drawn", { detail: { drawn: this.drawn, counts } }));
  }

  /** What changes only with the view (size, zoom, pan): each school's pixel, and the outlines' image. */
  layout(view, dpr, w, h, W, H) {
    const ctx = this.ctx, p = this.project();
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.lineWidth = 1; ctx.strokeStyle = "rgba(40,60,80,.45)"; ctx.fillStyle = "rgba(255,255,255,.55)";
    for (const hull of this.hulls) {
      ctx.beginPath();
      hull.forEach(([lon, lat], k) => (k ? ctx.lineTo(p.x(lon), p.y(lat)) : ctx.moveTo(p.x(lon), p.y(lat))));
      ctx.closePath(); ctx.fill(); ctx.stroke();
    }
    this.pixels = ctx.getImageData(0, 0, W, H);
    this.buf32 = new Uint32Array(this.pixels.data.buffer);
    this.base = this.buf32.slice();
    const n = this.visible.length, { lat, lon } = this.map;
    this.xs = new Float32Array(n); this.ys = new Float32Array(n);
    for (let k = 0; k < n; k++) { const i = this.visible[k]; this.xs[k] = p.x(lon[i]) * dpr; this.ys[k] = p.y(lat[i]) * dpr; }
    this.viewKey = view;
  }

  nearest(clientX, clientY) {
    const rect = this.canvas.getBoundingClientRect();
    const x = clientX - rect.left, y = clientY - rect.top;
    const p = this.project();
    let best = -1, bestD = 64;  // within 8 px
    for (const i of this.visible) {
      const dx = p.x(this.map.lon[i]) - x, dy = p.y(this.map.lat[i]) - y, d = dx * dx + dy * dy;
      if (d < bestD) { bestD = d; best = i; }
    }
    return { i: best, x, y };
  }

  listen() {
    const c = this.canvas;
    let drag = null;
    c.tabIndex = 0;
    c.addEventListener("pointerdown", (e) => { drag = { x: e.clientX, y: e.clientY, px: this.panX, py: this.panY, moved: false }; });
    c.addEventListener("pointermove", (e) => {
      if (drag && (e.buttons & 1)) {
        const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
        this.panX = drag.px + dx; this.panY = drag.py + dy; this.draw();
        return;
      }
      const { i, x, y } = this.nearest(e.clientX, e.clientY);
      this.tip.hidden = i < 0;
      if (i >= 0) {
        this.tip.textContent = `${schoolCode(this.map.ids[i])} · ${this.describe(i)} · ${LEVELS[this.map.level[i]]}`;
        this.tip.style.left = `${Math.min(x + 12, c.clientWidth - 220)}px`; this.tip.style.top = `${y + 12}px`;
      }
    });
    c.addEventListener("pointerleave", () => { this.tip.hidden = true; });
    c.addEventListener("pointerup", (e) => {
      const moved = drag && drag.moved;
      drag = null;
      if (moved) return;
      const { i } = this.nearest(e.clientX, e.clientY);
      if (i >= 0) this.onOpen(i);
    });
    c.addEventListener("wheel", (e) => { e.preventDefault(); this.zoomAt(e.deltaY < 0 ? 1.25 : 0.8, e.clientX, e.clientY); }, { passive: false });
    c.addEventListener("keydown", (e) => {
      const r = c.getBoundingClientRect(), cx = r.left + r.width / 2, cy = r.top + r.height / 2;
      if (e.key === "+" || e.key === "=") this.zoomAt(1.25, cx, cy);
      else if (e.key === "-") this.zoomAt(0.8, cx, cy);
      else if (e.key === "0") { this.zoom = 1; this.panX = this.panY = 0; this.draw(); }
      else if (e.key.startsWith("Arrow")) {
        const step = 40;
        this.panX += e.key === "ArrowLeft" ? step : e.key === "ArrowRight" ? -step : 0;
        this.panY += e.key === "ArrowUp" ? step : e.key === "ArrowDown" ? -step : 0;
        this.draw();
      } else return;
      e.preventDefault();
    });
  }

  zoomAt(factor, clientX, clientY) {
    const rect = this.canvas.getBoundingClientRect();
    const x = clientX - rect.left, y = clientY - rect.top;
    const zoom = Math.min(200, Math.max(0.5, this.zoom * factor));
    const f = zoom / this.zoom;
    const w = this.canvas.clientWidth, h = this.canvas.clientHeight;
    // keep the point under the pointer where it is
    this.panX = f * this.panX + (x - w / 2) * (1 - f);
    this.panY = f * this.panY + (y - h / 2) * (1 - f);
    this.zoom = zoom;
    this.draw();
  }

  destroy() { this.resizeObserver.disconnect(); }
}

/** The convex hull (lon, lat) of each group's visible schools: outlines drawn from the data. */
function hulls(map, visible, group) {
  const by = new Map();
  for (const i of visible) {
    const g = group[i];
    if (!by.has(g)) by.set(g, []);
    by.get(g).push([map.lon[i], map.lat[i]]);
  }
  const out = [];
  for (const points of by.values()) if (points.length >= 3) out.push(convexHull(points));
  return out;
}

function convexHull(points) {
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const cross = (o, a, b) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower = [], upper = [];
  for (const p of points) { while (lower.length >= 2 && cross(lower.at(-2), lower.at(-1), p) <= 0) lower.pop(); lower.push(p); }
  for (const p of points.slice().reverse()) { while (upper.length >= 2 && cross(upper.at(-2), upper.at(-1), p) <= 0) upper.pop(); upper.push(p); }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}
