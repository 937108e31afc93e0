// A live stream of the twin (`/api/v1/ws/...`), kept alive across lost connections: it reconnects
// with backoff and resumes after the last seq it saw on each topic, so nothing is missed and
// nothing is applied twice. A close for expired credentials (4401) refreshes the session first.
// Status changes ("live", "down") go to `onStatus` so the page can show a lost connection.
import { accessToken, refresh } from "./session.js";

const FINAL = new Set([4400, 4403, 4404]);  // refused for good: reconnecting cannot help

export class LiveStream {
  constructor(path, { onMessage, onStatus = () => {}, onRefused = () => {} }) {
    this.path = path;
    this.onMessage = onMessage; this.onStatus = onStatus; this.onRefused = onRefused;
    this.seqs = {};  // topic -> last seq applied
    this.closed = false;
    this.attempt = 0;
    this.lastHeard = Date.now();
    // The browser knowing it is offline, or a stream silent for longer than two heartbeats (15 s
    // each), means the socket is gone even if it has not said so: drop it and resume afresh.
    this.onOffline = () => { this.drop(); this.onStatus("down"); };
    this.onOnline = () => { clearTimeout(this.timer); this.attempt = 0; this.drop(); this.open(); };
    window.addEventListener("offline", this.onOffline);
    window.addEventListener("online", this.onOnline);
    this.watchdog = setInterval(() => {
      if (this.ws && this.ws.readyState === WebSocket.OPEN && Date.now() - this.lastHeard > 40_000) this.onOnline();
    }, 5_000);
    this.open();
  }

  /** Forget the current socket without waiting for it to close (offline, its close may never come). */
  drop() {
    if (!this.ws) return;
    const ws = this.ws;
    this.ws = null;
    ws.onopen = ws.onmessage = ws.onclose = null;
    try { ws.close(1000); } catch { /* already closing */ }
  }

  async open() {
    if (this.closed || this.opening || !navigator.onLine) return;  // offline: the "online" event reopens
    this.opening = true;  // one socket at a time, however many reasons to reconnect arrive together
    const token = await accessToken().catch(() => null).finally(() => { this.opening = false; });
    if (!token || this.closed || this.ws) return;
    const url = new URL(this.path, location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("access_token", token);
    const ws = this.ws = new WebSocket(url);
    let refusal = null;
    ws.onopen = () => {
      this.attempt = 0;
      this.lastHeard = Date.now();
      const topics = Object.keys(this.seqs);
      // resume: one topic by its seq, several as {topic: seq}; none yet: say so, and the twin starts
      // the stream at once instead of waiting a moment for a resume (news meanwhile would be missed)
      if (topics.length === 1) ws.send(JSON.stringify({ resume: this.seqs[topics[0]] }));
      else if (topics.length > 1) ws.send(JSON.stringify({ resume: this.seqs }));
      else ws.send(JSON.stringify({ resume: null }));
      this.onStatus("live");
    };
    ws.onmessage = (event) => {
      this.lastHeard = Date.now();
      const message = JSON.parse(event.data);
      if (message.success === false) { refusal = message.error; return; }
      if (["snapshot", "delta", "alert"].includes(message.type)) {
        const last = this.seqs[message.topic];
        if (message.type !== "snapshot" && last !== undefined && message.seq <= last) return;
        this.seqs[message.topic] = message.seq;
      }
      this.onMessage(message);
    };
    ws.onclose = async (event) => {
      this.ws = null;
      if (this.closed) return;
      if (FINAL.has(event.code)) { this.onStatus("refused"); this.onRefused(refusal || { message: event.reason }); return; }
      this.onStatus("down");
      if (event.code === 4401) await refresh().catch(() => {});
      const wait = Math.min(15_000, 500 * 2 ** this.attempt++) * (0.75 + Math.random() / 2);
      this.timer = setTimeout(() => this.open(), wait);
    };
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    window.removeEventListener("offline", this.onOffline);
    window.removeEventListener("online", this.onOnline);
    this.drop();
  }
}
