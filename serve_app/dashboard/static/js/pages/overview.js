// The state, district and block views: the map of the area's schools coloured by risk, headline
// figures, the table one level down (districts, blocks or schools), cascade warnings and money,
// all kept live by the area's dashboard stream.
import { get, getBinary } from "../api.js";
import { esc, inr, num } from "../format.js";
import { t } from "../i18n.js";
import { countLevels, decodeLevelsAnswer, LEVELS, schoolCode } from "../map-data.js";
import { SchoolMap } from "../map.js";
import { LiveStream } from "../stream.js";
import { figuresHtml } from "../figures.js";

const LEVELS_EVERY_MS = 1000;
const LEVELS_FOLLOW_UP_MS = 3000;

export async function render(main, ctx, view) {
  if (view.kind === "school-home") { ctx.navigate(`#/school/${ctx.places.area.school_id}`); return () => {}; }
  const { places } = ctx;
  let map = ctx.map;
  const same = (a, b) => a.toLowerCase() === String(b).toLowerCase();
  // the places listed are those inside the reader's area: one not listed is refused as unknown, as the API does
  const blockPlace = view.kind === "block" ? places.blocks.find((b) => same(b.district_name, view.district) && same(b.name, view.block)) : null;
  const districtPlace = view.kind === "district" ? places.districts.find((d) => same(d.name, view.district)) : null;
  if (view.kind === "block" && !blockPlace) throw new Error(`no block ${view.block}`);
  if (view.kind === "district" && !districtPlace) throw new Error(`no district ${view.district}`);
  const dIdx = blockPlace ? blockPlace.district : districtPlace ? districtPlace.index : -1;
  const bIdx = blockPlace ? blockPlace.index : -1;
  const district = blockPlace ? blockPlace.district_name : districtPlace ? districtPlace.name : null;
  const block = blockPlace ? blockPlace.name : null;
  const districtNames = new Map(places.blocks.map((b) => [b.district, b.district_name]));
  const blockNames = new Map(places.blocks.map((b) => [b.index, b.name]));
  const keep = view.kind === "block" ? (i) => map.block[i] === bIdx : view.kind === "district" ? (i) => map.district[i] === dIdx : () => true;
  const scope = view.kind === "block" ? `block:${district}/${block}` : view.kind === "district" ? `district:${district}` : "state";
  const aggregatesUrl = view.kind === "block" ? `/api/v1/twin/blocks/${encodeURIComponent(block)}?district=${encodeURIComponent(district)}`
    : view.kind === "district" ? `/api/v1/twin/districts/${encodeURIComponent(district)}` : "/api/v1/twin/state";

  const area = places.area;
  const crumbs = [];
  if (area.kind === "state") crumbs.push(`<a href="#/">Tamil Nadu</a>`);
  if (district && (area.kind === "state" || area.kind === "district")) crumbs.push(`<a href="#/district/${encodeURIComponent(district)}">${esc(district)}</a>`);
  if (block) crumbs.push(`<a href="#/block/${encodeURIComponent(district)}/${encodeURIComponent(block)}">${esc(block)}</a>`);
  const title = block ? `${block} · ${district}` : district || "Tamil Nadu";
  const tableTitle = view.kind === "state" ? t("state.districts") : view.kind === "district" ? t("district.blocks") : t("block.schools");

  main.innerHTML = `
    <nav class="crumbs" aria-label="Breadcrumb">${crumbs.join(" › ")}</nav>
    <h1 id="view-title" data-scope="${esc(scope)}">${esc(title)}</h1>
    <section class="figures" id="figures" aria-live="polite"></section>
    <div class="layout">
      <section class="card">
        <h2>${esc(t("map.title"))} <span class="muted" id="drawn"></span></h2>
        <div class="map-wrap"><canvas id="school-map" role="img"></canvas>
          <div class="map-legend levels">${LEVELS.map((l) => `<span class="level ${l}">${esc(t("level." + l))}</span>`).join("")}</div></div>
        <p class="muted">${esc(t("map.help"))}</p>
      </section>
      <section class="grid">
        <div class="card"><h2>${esc(tableTitle)}</h2><div class="table-wrap" id="table"><p class="loading">${esc(t("common.loading"))}</p></div></div>
        ${view.kind !== "state" ? `<div class="card"><h2>${esc(t("district.cascade"))}</h2><div id="cascade" class="loading">${esc(t("common.loading"))}</div></div>` : ""}
        ${view.kind !== "state" ? `<div class="card"><h2>${esc(t("district.finance"))}</h2><div id="finance" class="loading">${esc(t("common.loading"))}</div></div>` : ""}
      </section>
    </div>`;

  const canvas = main.querySelector("#school-map");
  const schoolMap = new SchoolMap(canvas, {
    onOpen: (i) => ctx.navigate(`#/school/${schoolCode(map.ids[i])}`),
    describe: (i) => `${districtNames.get(map.district[i]) ?? ""} / ${blockNames.get(map.block[i]) ?? ""}`,
  });
  schoolMap.setData(map, keep, view.kind === "state" ? "district" : "block");
  window.mealtwinMap = schoolMap;  // for tools measuring the page (mealtwin bench dashboard)
  const showDrawn = (n) => { const el = document.getElementById("drawn"); if (el) el.textContent = `· ${num(n)} ${t("map.drawn")}`; };
  canvas.addEventListener("drawn", (e) => showDrawn(e.detail.drawn));
  showDrawn(schoolMap.drawn);

  let aggregates = null;
  // every later write checks its element is still there: the reader may have moved on to another page
  const showFigures = () => { const el = document.getElementById("figures"); if (el) el.innerHTML = figuresHtml(aggregates, countLevels(map, keep)); };
  const table = tableOf(view, ctx, { district, block, dIdx, bIdx, get map() { return map; } });

  // Levels are fetched again when the stream says the figures moved: at once if the last fetch is a
  // second old, else when it is (at most one a second). Risk is scored just after the figures move,
  // so a second fetch follows the last move by a few seconds to pick up what the scoring changed.
  let levelsTimer = null, followUp = null, lastFetch = 0, levelsBusy = false, levelsDue = false, stopped = false;
  async function refreshLevels() {
    if (levelsBusy) { levelsDue = true; return; }
    levelsBusy = true;
    lastFetch = Date.now();
    try {
      // the version of the levels the map holds (named by the map's answer, then by each levels
      // answer), kept with the map so that every view of it asks only for what changed since; a
      // version the replica does not know is sent every level
      const held = map.levelsVersion;
      const { bytes, headers } = await getBinary(`/api/v1/dashboard/levels${held ? `?since=${encodeURIComponent(held)}` : ""}`);
      const answer = decodeLevelsAnswer(bytes);
      if (answer.n !== map.n) { map = await ctx.reloadMap(); schoolMap.setData(map, keep, view.kind === "state" ? "district" : "block"); }
      else {
        if (answer.levels) schoolMap.recolour(answer.levels);
        else schoolMap.recolourSome(answer.changed.index, answer.changed.level);
        map.levelsVersion = headers.get("X-Levels-Version");
      }
      showFigures();
      table.recolour();
    } catch (e) {
      levelsDue = true;  // a busy twin (503) or a lost connection: try again shortly
    } finally { levelsBusy = false; }
    if (levelsDue) { levelsDue = false; scheduleLevels(); }
  }
  function scheduleLevels() {
    if (stopped || levelsTimer) return;
    levelsTimer = setTimeout(() => { levelsTimer = null; refreshLevels(); }, Math.max(0, lastFetch + LEVELS_EVERY_MS - Date.now()));
  }
  function figuresMoved() {
    scheduleLevels();
    clearTimeout(followUp);
    followUp = setTimeout(() => { followUp = null; scheduleLevels(); }, LEVELS_FOLLOW_UP_MS);
  }

  try { aggregates = await get(aggregatesUrl); } catch (e) { ctx.showBanner(e.message); }
  showFigures();
  table.load(aggregates);
  if (view.kind !== "state") { loadCascade(main, view, district, block); loadFinance(main, view, district, block); }

  const stream = new LiveStream(`/api/v1/ws/dashboard?scope=${encodeURIComponent(scope)}`, {
    onStatus: ctx.setConnection,
    onRefused: (err) => ctx.showBanner(err.message || "the live stream was refused"),
    onMessage: (m) => {
      if (m.type !== "snapshot" && m.type !== "delta") return;
      aggregates = m.data;
      showFigures();
      table.live(aggregates);
      figuresMoved();  // the map was read before this view: a snapshot too may be newer than it
      const figures = document.getElementById("figures");
      // for tools measuring the page: the view's seq, when the twin sent it and when the page applied it
      if (figures) { figures.dataset.seq = String(m.seq); figures.dataset.sentAt = String(Date.parse(m.timestamp)); figures.dataset.appliedAt = String(Date.now()); }
    },
  });
  return () => { stopped = true; stream.close(); schoolMap.destroy(); clearTimeout(levelsTimer); clearTimeout(followUp); table.stop(); };
}

function tableOf(view, ctx, where) {
  const el = () => document.getElementById("table");
  // schools at high or critical risk by district or block index, in one pass over the map
  const riskyBy = (column) => {
    const m = where.map, out = new Map();
    for (let i = 0; i < m.n; i++) if (m.level[i] >= 2) out.set(m[column][i], (out.get(m[column][i]) || 0) + 1);
    return out;
  };
  if (view.kind === "state") {
    let rows = [];
    const draw = () => {
      if (!el()) return;
      const risky = riskyBy("district");
      el().innerHTML = rows.length ? `<table id="districts-table"><thead><tr><th>${esc(t("col.district"))}</th><th class="num">${esc(t("col.schools"))}</th><th class="num">${esc(t("col.meals"))}</th><th class="num">${esc(t("col.stale"))}</th><th class="num">${esc(t("col.stock_days"))}</th><th class="num">${esc(t("col.at_risk"))}</th></tr></thead><tbody>${
        rows.map((r) => { const d = ctx.places.districts.find((x) => x.name === r.district)?.index;
          return `<tr class="link" data-district="${esc(r.district)}"><td><a href="#/district/${encodeURIComponent(r.district)}">${esc(r.district)}</a></td><td class="num">${num(r.schools)}</td><td class="num">${num(r.meals_today)}</td><td class="num">${num(r.stale)}</td><td class="num">${num(r.stock_days, 1)}</td><td class="num">${num(risky.get(d) || 0)}</td></tr>`; }).join("")
      }</tbody></table>` : `<p class="empty">${esc(t("common.none"))}</p>`;
      el().querySelectorAll("tr.link").forEach((tr) => tr.addEventListener("click", (e) => { if (e.target.tagName !== "A") ctx.navigate(`#/district/${encodeURIComponent(tr.dataset.district)}`); }));
    };
    return { load: (agg) => { rows = agg?.districts || []; draw(); }, live: (agg) => { rows = agg?.districts || rows; draw(); }, recolour: draw, stop: () => {} };
  }
  if (view.kind === "district") {
    let rows = [], last = 0, stopped = false;
    const draw = () => {
      if (!el()) return;
      const risky = riskyBy("block");
      el().innerHTML = rows.length ? `<table id="blocks-table"><thead><tr><th>${esc(t("col.block"))}</th><th class="num">${esc(t("col.schools"))}</th><th class="num">${esc(t("col.meals"))}</th><th class="num">${esc(t("col.stale"))}</th><th class="num">${esc(t("col.stock_days"))}</th><th class="num">${esc(t("col.balance"))}</th><th class="num">${esc(t("col.at_risk"))}</th></tr></thead><tbody>${
        rows.map((r) => { const b = ctx.places.blocks.find((x) => x.district === where.dIdx && x.name === r.block)?.index;
          return `<tr class="link" data-block="${esc(r.block)}"><td><a href="#/block/${encodeURIComponent(where.district)}/${encodeURIComponent(r.block)}">${esc(r.block)}</a></td><td class="num">${num(r.schools)}</td><td class="num">${num(r.meals_today)}</td><td class="num">${num(r.stale)}</td><td class="num">${num(r.stock_days, 1)}</td><td class="num">${inr(r.funds?.balance_inr)}</td><td class="num">${num(risky.get(b) || 0)}</td></tr>`; }).join("")
      }</tbody></table>` : `<p class="empty">${esc(t("common.none"))}</p>`;
      el().querySelectorAll("tr.link").forEach((tr) => tr.addEventListener("click", (e) => { if (e.target.tagName !== "A") ctx.navigate(`#/block/${encodeURIComponent(where.district)}/${encodeURIComponent(tr.dataset.block)}`); }));
    };
    const fetchRows = async () => {
      last = Date.now();
      try { rows = (await get(`/api/v1/dashboard/districts/${encodeURIComponent(where.district)}/blocks`)).blocks; draw(); }
      catch (e) { if (el() && !rows.length) el().innerHTML = `<p class="error">${esc(e.message)}</p>`; }
    };
    // the blocks' roll-ups are a read per block: at most every 5 s while the district moves
    return { load: fetchRows, live: () => { if (!stopped && Date.now() - last > 5000) fetchRows(); }, recolour: draw, stop: () => { stopped = true; } };
  }
  // a block: its schools, from the register (names), with their live level from the map
  let schools = [];
  const levelOf = new Map();
  const draw = () => {
    if (!el()) return;
    const m = where.map;
    levelOf.clear();
    for (let i = 0; i < m.n; i++) if (m.block[i] === where.bIdx) levelOf.set(schoolCode(m.ids[i]), LEVELS[m.level[i]]);
    const sorted = schools.slice().sort((a, b) => LEVELS.indexOf(levelOf.get(b.id) || "low") - LEVELS.indexOf(levelOf.get(a.id) || "low") || a.name.localeCompare(b.name));
    el().innerHTML = sorted.length ? `<table id="schools-table"><thead><tr><th>${esc(t("col.school"))}</th><th>UDISE</th><th class="num">${esc(t("col.enrolment"))}</th><th>${esc(t("col.risk"))}</th></tr></thead><tbody>${
      sorted.map((s) => { const lv = levelOf.get(s.id) || s.risk_level;
        return `<tr class="link" data-school="${s.id}"><td><a href="#/school/${s.id}">${esc(s.name)}</a></td><td>${s.id}</td><td class="num">${num(s.total_students)}</td><td><span class="level ${lv}">${esc(t("level." + lv))}</span></td></tr>`; }).join("")
    }</tbody></table>` : `<p class="empty">${esc(t("common.none"))}</p>`;
    el().querySelectorAll("tr.link").forEach((tr) => tr.addEventListener("click", (e) => { if (e.target.tagName !== "A") ctx.navigate(`#/school/${tr.dataset.school}`); }));
  };
  return {
    load: async () => {
      try {
        const url = `/api/v1/schools?district=${encodeURIComponent(where.district)}&block=${encodeURIComponent(where.block)}&page_size=200`;
        const first = await get(url);  // a large block has more than a page of schools
        const rest = await Promise.all(Array.from({ length: Math.max(0, first.pagination.pages - 1) }, (_, k) => get(`${url}&page=${k + 2}`)));
        schools = first.schools.concat(...rest.map((p) => p.schools)); draw();
      } catch (e) { if (el()) el().innerHTML = `<p class="error">${esc(e.message)}</p>`; }
    },
    live: () => {}, recolour: draw, stop: () => {},
  };
}

async function loadCascade(main, view, district, block) {
  const el = main.querySelector("#cascade");
  if (!el) return;
  const url = view.kind === "block" ? `/api/v1/predictions/cascade/blocks/${encodeURIComponent(block)}?district=${encodeURIComponent(district)}`
    : `/api/v1/predictions/cascade/districts/${encodeURIComponent(district)}`;
  try {
    const c = await get(url);
    el.className = "";
    el.innerHTML = `<p>${num(c.cascade_flagged)} ${esc(t("cascade.count"))} ${num(c.schools)}</p>` + (c.flagged.length ? `<table><thead><tr><th>${esc(t("col.school"))}</th><th class="num">${esc(t("col.score"))}</th><th class="num">${esc(t("col.from_neighbours"))}</th><th>${esc(t("col.risk"))}</th></tr></thead><tbody>${
      c.flagged.slice(0, 15).map((f) => `<tr><td><a href="#/school/${f.school_id}">${f.school_id}</a></td><td class="num">${num(f.score, 1)}</td><td class="num">${num(f.neighbour_points, 1)}</td><td><span class="level ${f.level}">${esc(t("level." + f.level))}</span></td></tr>`).join("")}</tbody></table>` : "");
  } catch (e) { el.className = "muted"; el.textContent = e.status === 503 ? t("common.unavailable") : e.message; }
}

async function loadFinance(main, view, district, block) {
  const el = main.querySelector("#finance");
  if (!el) return;
  const url = view.kind === "block" ? `/api/v1/financial/blocks/${encodeURIComponent(block)}?district=${encodeURIComponent(district)}`
    : `/api/v1/financial/districts/${encodeURIComponent(district)}`;
  try {
    const f = await get(url);
    el.className = "";
    el.innerHTML = `<p class="muted">${esc(f.year_label)}</p><table><tbody>
      <tr><td>${esc(t("finance.allocated"))}</td><td class="num">${inr(f.allocated?.total_inr)}</td></tr>
      <tr><td>${esc(t("finance.released"))}</td><td class="num">${inr(f.released_inr)}</td></tr>
      <tr><td>${esc(t("finance.utilised"))}</td><td class="num">${inr(f.utilised?.total_inr)}</td></tr>
      <tr><td>${esc(t("col.balance"))}</td><td class="num">${inr(f.balance_inr)}</td></tr></tbody></table>`;
  } catch (e) { el.className = "muted"; el.textContent = e.status === 503 ? t("common.unavailable") : e.message; }
}
