// Recordings: search and filter the index (SearchMedia: domain, app, stream, format,
// time range) and scroll through every match, however many (a virtual list: the rows
// in view are in the document, fetched 100 at a time); play one in the page (MP4 and
// AAC natively, HLS with the vendored hls.js, FLV with the vendored mpegts.js) or
// download it.
import { call } from "./api.js";
import { duration, h, show, size, when } from "./ui.js";

const state = { filter: {} };

function query() {
  const q = { Sort: { Field: "CreateTime", Order: "Desc" } };
  const f = state.filter;
  if (f.domain) q.DomainName = f.domain;
  if (f.app) q.AppName = f.app;
  if (f.stream) q.StreamIds = [f.stream];
  if (f.format) q.FileFormat = f.format;
  const range = {};
  if (f.after) range.After = new Date(f.after).toISOString();
  if (f.before) range.Before = new Date(f.before).toISOString();
  if (range.After || range.Before) q.CreateTime = range;
  return q;
}

function filters() {
  const f = state.filter;
  const form = h("form", { id: "search-form", class: "inline", "aria-label": "Search recordings" },
    h("label", {}, "Domain", h("input", { name: "domain", value: f.domain ?? "" })),
    h("label", {}, "App", h("input", { name: "app", value: f.app ?? "" })),
    h("label", {}, "Stream", h("input", { name: "stream", value: f.stream ?? "" })),
    h("label", {}, "Format", h("select", { name: "format" },
      ["", "flv", "hls", "mp4", "aac"].map((v) => h("option", { value: v, selected: f.format === v }, v || "any")))),
    h("label", {}, "From", h("input", { name: "after", type: "datetime-local", value: f.after ?? "" })),
    h("label", {}, "To", h("input", { name: "before", type: "datetime-local", value: f.before ?? "" })),
    h("button", { type: "submit" }, "Search"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    state.filter = Object.fromEntries([...new FormData(form)].map(([k, v]) => [k, String(v).trim()]).filter(([, v]) => v));
    recordings();
  });
  return form;
}

/** The vendored mpegts.js (a UMD script: loaded by a script element, once). */
let mpegtsLoaded = null;
function mpegts() {
  mpegtsLoaded ??= new Promise((resolve, reject) => {
    const script = h("script", { src: "./vendor/mpegts.js" });
    script.addEventListener("load", () => (window.mpegts ? resolve(window.mpegts) : reject(new Error("mpegts.js did not load"))));
    script.addEventListener("error", () => { mpegtsLoaded = null; reject(new Error("vendor/mpegts.js is missing")); });
    document.head.append(script);
  });
  return mpegtsLoaded;
}

/** The player library of the recording shown (destroyed when another one plays). */
let playing = null;

async function playFlv(area, video, url) {
  try {
    const lib = await mpegts();
    if (!lib.getFeatureList().mseLivePlayback) throw new Error("this browser has no Media Source Extensions");
    const player = lib.createPlayer({ type: "flv", url, isLive: false });
    player.on(lib.Events.ERROR, (type, detail) => area.append(h("p", { class: "error", role: "alert" }, `FLV playback failed: ${type} ${detail}`)));
    player.attachMediaElement(video);
    player.load();
    playing = player;
  } catch (e) {
    area.append(h("p", { class: "error" }, `FLV playback is not available (${e.message}): run npm ci in www/, then build the server again.`));
  }
}

/** Plays recording `m` in the player area. */
async function play(m) {
  playing?.destroy();
  playing = null;
  const area = document.getElementById("player");
  const url = m.BasicInfo.MediaUrl;
  const video = h("video", { controls: true, autoplay: true, muted: true, id: "player-video", "aria-label": `Playing ${m.BasicInfo.Name}` });
  area.replaceChildren(h("h2", {}, `Playing ${m.BasicInfo.Name}`), video);
  const type = m.BasicInfo.Type;
  if (type === "mp4" || type === "aac") {
    video.src = url;
    return;
  }
  if (type === "hls") {
    if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = url;
      return;
    }
    try {
      const { default: Hls } = await import("./vendor/hls.mjs");
      const hls = new Hls();
      hls.on(Hls.Events.ERROR, (_, data) => {
        if (data.fatal) area.append(h("p", { class: "error", role: "alert" }, `HLS playback failed: ${data.type} ${data.details}`));
      });
      hls.loadSource(url);
      hls.attachMedia(video);
      playing = hls;
    } catch (e) {
      area.append(h("p", { class: "error" }, `hls.js is not built into this server (${e.message}): run npm ci in www/, then build the server again.`));
    }
    return;
  }
  if (type === "flv") return playFlv(area, video, url);
  area.replaceChildren(h("p", {}, `${type} files do not play in the page here: download it.`));
}

function row(m) {
  const info = m.LiveRecordInfo;
  const playable = ["mp4", "aac", "hls", "flv"].includes(m.BasicInfo.Type);
  return h("tr", { "data-file": m.FileId },
    h("td", {}, m.BasicInfo.Name),
    h("td", {}, m.BasicInfo.Type),
    h("td", {}, `${info.DomainName}/${info.AppName}/${info.StreamName}`),
    h("td", {}, when(info.RecordStartTime)),
    h("td", { class: "num" }, duration(m.MetaData.Duration)),
    h("td", { class: "num" }, size(m.MetaData.Size)),
    h("td", {},
      playable ? h("button", { type: "button", "aria-label": `Play ${m.BasicInfo.Name}`, onclick: () => play(m) }, "Play") : "",
      " ", h("a", { href: m.BasicInfo.MediaUrl, download: m.BasicInfo.Name }, "Download")));
}

/**
 * The rows, however many: fetched FETCH rows at a time as they scroll into view, and only
 * the visible ones (plus OVERSCAN) in the document, between two spacer rows.
 */
class Rows {
  constructor(total, first) {
    this.total = total;
    this.pages = new Map([[0, first]]);
    this.pending = new Set();
  }

  row(i) {
    return this.pages.get(Math.floor(i / FETCH))?.[i % FETCH];
  }

  /** Fetches the pages rows `from`..`to` lie in; `then` when each arrives. */
  want(from, to, then) {
    for (let page = Math.floor(from / FETCH); page <= Math.floor((to - 1) / FETCH); page++) {
      if (this.pages.has(page) || this.pending.has(page)) continue;
      this.pending.add(page);
      call("SearchMedia", { ...query(), Offset: page * FETCH, Limit: FETCH }).then((found) => {
        this.pages.set(page, found.MediaInfoSet);
        this.pending.delete(page);
        then();
      }, () => this.pending.delete(page));
    }
  }
}

const FETCH = 100;
const ROW_PX = 36;
const OVERSCAN = 10;

function render(rows, scroller, body) {
  const visible = Math.ceil(scroller.clientHeight / ROW_PX) || 20;
  const from = Math.max(0, Math.floor(scroller.scrollTop / ROW_PX) - OVERSCAN);
  const to = Math.min(rows.total, from + visible + 2 * OVERSCAN);
  rows.want(from, to, () => render(rows, scroller, body));
  const spacer = (n) => {
    const cell = h("td", { colspan: 7 });
    cell.style.height = `${n * ROW_PX}px`; // CSSOM: the CSP refuses style attributes
    return h("tr", { "aria-hidden": "true", class: "spacer" }, cell);
  };
  const shown = [];
  for (let i = from; i < to; i++) {
    const m = rows.row(i);
    const tr = m ? row(m) : h("tr", {}, h("td", { colspan: 7, class: "empty" }, "…"));
    tr.setAttribute("aria-rowindex", i + 2);
    shown.push(tr);
  }
  body.replaceChildren(spacer(from), ...shown, spacer(rows.total - to));
}

export async function recordings() {
  performance.mark("recordings-start");
  const found = await call("SearchMedia", { ...query(), Offset: 0, Limit: FETCH });
  const rows = new Rows(found.TotalCount, found.MediaInfoSet);
  const body = h("tbody", {});
  const list = h("table", { id: "recordings-list", "aria-rowcount": rows.total + 1 },
    h("caption", {}, `${rows.total} recording(s), newest first`),
    h("thead", {}, h("tr", { "aria-rowindex": 1 },
      ["File", "Format", "Stream", "Started", "Duration", "Size", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
    body);
  const scroller = h("div", { id: "recordings-scroll", class: "scroller", tabindex: 0, "aria-label": "Recordings, scrollable" }, list);
  if (!rows.total) body.append(h("tr", {}, h("td", { colspan: 7, class: "empty" }, "No recordings match.")));
  let queued = false;
  scroller.addEventListener("scroll", () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      render(rows, scroller, body);
    });
  });
  show(h("section", { id: "recordings", "aria-labelledby": "recordings-title" },
    h("h1", { id: "recordings-title" }, "Recordings"),
    filters(), scroller, h("div", { id: "player" })));
  if (rows.total) render(rows, scroller, body);
  requestAnimationFrame(() => performance.mark("recordings-painted"));
}
