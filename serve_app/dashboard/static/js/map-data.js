// The map's binary forms (see serve_app/dashboard/binary.py), viewed in place as typed arrays.

export const LEVELS = ["low", "medium", "high", "critical"];

export function decodeMap(buffer) {
  const head = new DataView(buffer, 0, 16);
  const magic = String.fromCharCode(...new Uint8Array(buffer, 0, 4));
  if (magic !== "MTM1") throw new Error("not a school map");
  const n = head.getUint32(4, true);
  let at = 16;
  const take = (Type) => { const a = new Type(buffer, at, n); at += n * Type.BYTES_PER_ELEMENT; return a; };
  return { n, ids: take(Float64Array), lat: take(Float32Array), lon: take(Float32Array),
           block: take(Uint16Array), district: take(Uint8Array), level: take(Uint8Array).slice() };
}

export function decodeLevels(buffer) {
  const magic = String.fromCharCode(...new Uint8Array(buffer, 0, 4));
  if (magic !== "MTL1") throw new Error("not a levels answer");
  const n = new DataView(buffer, 4, 4).getUint32(0, true);
  return new Uint8Array(buffer, 8, n);
}

/** A levels answer: every level (`MTL1`), or only the schools changed since the version the page
 * named (`MTC1`: their places in the map's order and their new levels). */
export function decodeLevelsAnswer(buffer) {
  const magic = String.fromCharCode(...new Uint8Array(buffer, 0, 4));
  if (magic === "MTL1") { const levels = decodeLevels(buffer); return { n: levels.length, levels }; }
  if (magic !== "MTC1") throw new Error("not a levels answer");
  const head = new DataView(buffer, 4, 8);
  const n = head.getUint32(0, true), k = head.getUint32(4, true);
  return { n, changed: { index: new Uint32Array(buffer, 12, k), level: new Uint8Array(buffer, 12 + 4 * k, k) } };
}

export function schoolCode(id) { return String(Math.round(id)).padStart(11, "0"); }

/** Schools by level, among those `keep(i)` accepts. */
export function countLevels(map, keep = () => true) {
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < map.n; i++) if (keep(i)) counts[map.level[i]]++;
  return counts;
}
