// Recordings: search and filter the index (SearchMedia: domain, app, stream, format,
// time range), a page of PAGE_SIZE rows at a time, however many there are; play one in
// the page (MP4 natively, HLS with the vendored hls.js) or download it.
import { call } from "./api.js";
import { duration, h, show, size, table, when } from "./ui.js";

export const PAGE_SIZE = 100;
const state = { filter: {}, offset: 0 };

function query() {
  const q = { Offset: state.offset, Limit: PAGE_SIZE, Sort: { Field: "CreateTime", Order: "Desc" } };
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
    state.offset = 0;
    recordings();
  });
  return form;
}

/** Plays recording `m` in the player area. */
async function play(m) {
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
    } catch (e) {
      area.append(h("p", { class: "error" }, `hls.js is not built into this server (${e.message}): run npm ci in www/, then build the server again.`));
    }
    return;
  }
  area.replaceChildren(h("p", {}, `${type} files do not play in the page here: download it.`));
}

function row(m) {
  const info = m.LiveRecordInfo;
  const playable = ["mp4", "aac", "hls"].includes(m.BasicInfo.Type);
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

function pager(total) {
  const last = Math.max(0, Math.ceil(total / PAGE_SIZE) - 1) * PAGE_SIZE;
  const go = (offset) => () => {
    state.offset = Math.min(Math.max(0, offset), last);
    recordings();
  };
  const page = Math.floor(state.offset / PAGE_SIZE) + 1;
  return h("p", { class: "inline", id: "pager" },
    h("button", { type: "button", onclick: go(0), disabled: state.offset === 0 }, "First"),
    h("button", { type: "button", onclick: go(state.offset - PAGE_SIZE), disabled: state.offset === 0 }, "Previous"),
    h("span", {}, `Page ${page} of ${Math.max(1, Math.ceil(total / PAGE_SIZE))}`),
    h("button", { type: "button", onclick: go(state.offset + PAGE_SIZE), disabled: state.offset >= last }, "Next"),
    h("button", { type: "button", onclick: go(last), disabled: state.offset >= last }, "Last"));
}

export async function recordings() {
  const found = await call("SearchMedia", query());
  const first = found.TotalCount ? state.offset + 1 : 0;
  const list = table(`Recordings ${first}–${state.offset + found.MediaInfoSet.length} of ${found.TotalCount}`,
    ["File", "Format", "Stream", "Started", "Duration", "Size", "Actions"], found.MediaInfoSet.map(row), "No recordings match.");
  list.id = "recordings-list";
  show(h("section", { id: "recordings", "aria-labelledby": "recordings-title" },
    h("h1", { id: "recordings-title" }, "Recordings"),
    filters(), pager(found.TotalCount), list, h("div", { id: "player" })));
}
