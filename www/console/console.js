// The liverec console: pages over the reference API (api.js) and the npm package
// (./pkg/, embedded in the server beside these files). Plain ES modules, no framework.
import { call, credentials, signIn, signOut, needsSignIn } from "./api.js";
import { h, notice, show, table, kbps, size, duration, when, currentPage, registerPages } from "./ui.js";
import { templates } from "./templates.js";
import { rules } from "./rules.js";
import { tasks, recordNow } from "./tasks.js";
import { push } from "./push.js";
import { recordings } from "./recordings.js";
import { callbacks, recentDeliveries, result } from "./callbacks.js";
import { clip } from "./clip.js";

const main = document.getElementById("main");
const REFRESH_MS = 3000;
let refresh = null;

// ---- sign-in ----

function showSignIn(error) {
  const failed = credentials() && error ? h("p", { class: "error", role: "alert" }, `${error.code}: ${error.message}`) : null;
  const form = h("form", { class: "signin", "aria-label": "Sign in" },
    h("label", {}, "SecretId", h("input", { name: "secretId", autocomplete: "username", required: true })),
    h("label", {}, "SecretKey", h("input", { name: "secretKey", type: "password", autocomplete: "current-password", required: true })),
    h("button", { type: "submit" }, "Sign in"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    signIn(form.secretId.value.trim(), form.secretKey.value);
    route();
  });
  show(h("h1", {}, "Sign in"),
    h("p", {}, "This server signs its API with TC3-HMAC-SHA256. The key stays in this tab and signs each request; it is never sent."),
    failed, form);
  form.secretId.focus();
}

function renderWho() {
  const who = document.getElementById("who");
  const signed = credentials();
  who.replaceChildren(signed
    ? h("span", {}, `Signed in as ${signed.secretId} `, h("button", { type: "button", onclick: () => { signOut(); route(); } }, "Sign out"))
    : "");
}

// ---- overview ----

function pushRow(p, now) {
  const key = `${p.PushDomain}/${p.AppName}/${p.StreamName}`;
  const video = p.Vcodec ? `${p.Vcodec} ${p.Resolution} @ ${p.VideoFps} fps` : "—";
  const audio = p.Acodec ? `${p.Acodec} ${p.AsampleRate ? `${p.AsampleRate / 1000} kHz` : ""}` : "—";
  const began = Date.parse(p.BeginPushTime);
  const names = { DomainName: p.PushDomain, AppName: p.AppName, StreamName: p.StreamName };
  return h("tr", { "data-stream": key },
    h("td", {}, key),
    h("td", {}, p.Protocol ?? ""),
    h("td", {}, video),
    h("td", {}, audio),
    h("td", { class: "num" }, kbps(p.VideoSpeed + p.AudioSpeed)),
    h("td", { class: "num" }, duration((now - began) / 1000)),
    h("td", {}, (p.RecordFormats ?? []).join(", ") || "nothing"),
    h("td", {},
      h("button", {
        type: "button", "aria-label": `Record ${key} now`,
        onclick: () => recordNow(names, 30).then(() => refreshNow(), (e) => notice(`Record now: ${e.code} ${e.message}`)),
      }, "Record 30 min"), " ",
      h("button", { type: "button", class: "danger", "aria-label": `Drop ${key}`, onclick: () => act("DropLiveStream", names) }, "Drop"), " ",
      h("button", { type: "button", class: "danger", "aria-label": `Forbid ${key}`, onclick: () => askForbid(names, key) }, "Forbid")));
}

function recordingRow(m) {
  const info = m.LiveRecordInfo;
  return h("tr", {},
    h("td", {}, h("a", { href: m.BasicInfo.MediaUrl, download: m.BasicInfo.Name }, m.BasicInfo.Name)),
    h("td", {}, m.BasicInfo.Type),
    h("td", {}, `${info.DomainName}/${info.AppName}/${info.StreamName}`),
    h("td", {}, when(info.RecordStartTime)),
    h("td", { class: "num" }, duration(m.MetaData.Duration)),
    h("td", { class: "num" }, size(m.MetaData.Size)));
}

async function act(action, params) {
  try {
    await call(action, params);
    notice("");
  } catch (e) {
    notice(`${action}: ${e.code ?? ""} ${e.message}`);
  }
  refreshNow();
}

function askForbid(names, key) {
  const form = h("form", { class: "inline", id: "forbid-form", "aria-label": `Forbid ${key}` },
    h("strong", {}, `Forbid ${key}`),
    h("label", {}, "For", h("select", { name: "hours" },
      h("option", { value: "1" }, "1 hour"), h("option", { value: "24" }, "1 day"), h("option", { value: "168", selected: true }, "7 days"))),
    h("label", {}, "Reason", h("input", { name: "reason", maxlength: 2048 })),
    h("button", { type: "submit", class: "danger" }, "Forbid"),
    h("button", { type: "button", onclick: () => form.remove() }, "Cancel"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const resume = new Date(Date.now() + Number(form.hours.value) * 3600e3).toISOString().replace(/\.\d+Z$/, "Z");
    form.remove();
    act("ForbidLiveStream", { ...names, ResumeTime: resume, Reason: form.reason.value });
  });
  document.getElementById("forbid-form")?.remove();
  document.getElementById("live").before(form);
  form.hours.focus();
}

async function healthLine() {
  try {
    const text = await (await fetch("/healthz", { cache: "no-store" })).text();
    const [state, ...rest] = text.trim().split("\n");
    return h("p", { id: "health", class: state === "ok" ? "health-ok" : "health-bad" }, `Server: ${state} — ${rest.join("; ")}`);
  } catch (e) {
    return h("p", { id: "health", class: "health-bad" }, `Server: unreachable (${e.message})`);
  }
}

/** Failed callback attempts of the last 24 hours (each is retried until given up). */
async function callbackLine() {
  const failed = await recentDeliveries({ failed: true, pageSize: 1 });
  const latest = failed.DataInfoList[0];
  return h("p", { id: "callback-health", class: failed.TotalNum ? "health-bad" : "health-ok" },
    failed.TotalNum
      ? `Callbacks: ${failed.TotalNum} failed attempt(s) in the last 24 hours; the latest, for ${latest.StreamId}: ${result(latest.ResultCode)} — ${latest.Response} `
      : "Callbacks: no failed deliveries in the last 24 hours ",
    h("a", { href: "#/callbacks" }, "Delivery log"));
}

async function overview() {
  const [pushes, media, health, callbacksNow] = await Promise.all([
    call("DescribeLiveStreamPushInfoList", { PageSize: 1000 }),
    call("SearchMedia", { Limit: 10, Sort: { Field: "CreateTime", Order: "Desc" } }),
    healthLine(),
    callbackLine(),
  ]);
  const now = Date.now();
  const live = table(`${pushes.TotalNum} live push(es), refreshed every ${REFRESH_MS / 1000} s`,
    ["Stream", "Protocol", "Video", "Audio", "Bit rate", "Duration", "Recording", "Actions"],
    pushes.DataInfoList.map((p) => pushRow(p, now)), "No live pushes.");
  live.id = "live";
  const latest = table(`The latest of ${media.TotalCount} recording(s)`,
    ["File", "Format", "Stream", "Started", "Duration", "Size"],
    media.MediaInfoSet.map(recordingRow), "No recordings yet.");
  latest.id = "latest";
  if (currentPage() !== "overview") return;
  const existing = document.getElementById("overview");
  if (existing) {
    document.getElementById("live").replaceWith(live);
    document.getElementById("latest").replaceWith(latest);
    document.getElementById("health").replaceWith(health);
    document.getElementById("callback-health").replaceWith(callbacksNow);
  } else {
    show(h("section", { id: "overview", "aria-labelledby": "overview-title" },
      h("h1", { id: "overview-title" }, "Overview"), health, callbacksNow,
      h("h2", {}, "Live pushes"), live,
      h("h2", {}, "Latest recordings"), latest));
  }
  refresh = setTimeout(refreshNow, REFRESH_MS);
}

// ---- routing ----

const pages = { overview, templates, rules, tasks, push, recordings, clip, callbacks };

registerPages(Object.keys(pages));

async function run(name) {
  clearTimeout(refresh);
  try {
    await pages[name]();
  } catch (e) {
    if (needsSignIn(e)) showSignIn(e);
    else show(h("h1", {}, "Something went wrong"), h("p", { class: "error", role: "alert" }, `${e.code ?? e.name}: ${e.message}`));
  }
}

/** Draws the overview again (after an action, and every REFRESH_MS while it is shown). */
function refreshNow() {
  if (currentPage() === "overview" && document.getElementById("overview")) run("overview");
}

export function route() {
  const name = currentPage();
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.page === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  renderWho();
  main.replaceChildren(h("p", {}, "Loading…"));
  return run(name);
}

window.addEventListener("hashchange", route);
route();
