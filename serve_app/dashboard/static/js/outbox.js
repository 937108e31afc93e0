// Reports made on the device wait here (localStorage) until the twin has them. Each event's id is
// made once, on the device, when it is written: sending the same report again after a lost answer
// is a duplicate the twin applies once, so a report counts exactly once however often it is sent.
import { postRaw } from "./api.js";

const KEY = "mealtwin.outbox";
const listeners = new Set();

export function waiting() {
  try { return JSON.parse(localStorage.getItem(KEY)) || []; } catch { return []; }
}

function save(events) { localStorage.setItem(KEY, JSON.stringify(events)); for (const f of listeners) f(events); }

export function onChange(f) { listeners.add(f); return () => listeners.delete(f); }

export function newEventId() {
  return (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`);
}

/** Keep `events` and try to send everything waiting. Returns the ingest's results, or null offline. */
export async function submit(events) {
  save(waiting().concat(events));
  return flush();
}

let flushing = null;
export function flush() {
  if (flushing) return flushing;
  flushing = (async () => {
    const events = waiting();
    if (!events.length || !navigator.onLine) return null;
    let answer;
    try { answer = await postRaw("/api/v1/events", { events }); } catch { return null; }
    if (answer.status >= 500 || answer.status === 429 || answer.status === 0 || !answer.body) return null;
    const results = answer.body.data?.results || [];
    // accepted, corrections and duplicates are done; rejected ones are dropped with their reason shown
    const settled = new Set(results.map((r) => r.event_id));
    save(waiting().filter((e) => !settled.has(e.event_id)));
    return answer.body;
  })().finally(() => { flushing = null; });
  return flushing;
}

window.addEventListener("online", () => flush());
