// Callbacks: templates (where each event goes, and the key that signs it), the rules
// binding them to a domain and app, and the delivery state of recent events
// (DescribeCallbackRecordsList: every attempt, delivered or failed and retried).
import { call } from "./api.js";
import { h, notice, show, table } from "./ui.js";

const EVENTS = { 0: "Push ended", 1: "Push began", 100: "Recording made", 200: "Snapshot", 341: "Recording exception" };
const DAY_MS = 86_400_000;
const utc = (ms) => new Date(ms).toISOString().replace(/\.\d+Z$/, "Z");

/** Delivery attempts of the last 24 hours, newest first (`failed`: failed ones only). */
export function recentDeliveries({ failed = false, pageSize = 100 } = {}) {
  const now = Date.now();
  const params = { StartTime: utc(now - DAY_MS + 60_000), EndTime: utc(now + 60_000), PageNum: 1, PageSize: pageSize };
  if (failed) params.ResultCode = 1;
  return call("DescribeCallbackRecordsList", params);
}

/** What an attempt's result code says. */
export function result(code) {
  return code === 0 ? "Delivered" : code === 1 ? "No answer" : `HTTP ${code}`;
}

function deliveryRow(e) {
  return h("tr", { "data-delivery": e.ResultCode === 0 ? "delivered" : "failed" },
    h("td", {}, new Date(e.ResponseTime).toLocaleString()),
    h("td", {}, EVENTS[e.EventType] ?? `Event ${e.EventType}`),
    h("td", {}, e.StreamId),
    h("td", { class: e.ResultCode === 0 ? "health-ok" : "health-bad" }, result(e.ResultCode)),
    h("td", { class: "clip" }, e.Response));
}

const URLS = [
  ["StreamBeginNotifyUrl", "Push began"],
  ["StreamEndNotifyUrl", "Push ended"],
  ["RecordNotifyUrl", "Recording made"],
  ["RecordStatusNotifyUrl", "Recording status"],
  ["RecordExceptionNotifyUrl", "Recording exception"],
];

async function attempt(label, fn) {
  try {
    await fn();
    notice("");
  } catch (e) {
    notice(`${label}: ${e.code} ${e.message}`);
  }
  await callbacks();
}

function templateForm() {
  const form = h("form", { id: "callback-form", "aria-label": "New callback template" },
    h("div", { class: "inline" },
      h("label", {}, "Name", h("input", { name: "TemplateName", required: true })),
      h("label", {}, "Callback key (signs the events)", h("input", { name: "CallbackKey" }))),
    h("div", { class: "inline" }, URLS.map(([name, text]) =>
      h("label", {}, text, h("input", { name, type: "url", placeholder: "https://example.com/hook" })))),
    h("p", { class: "inline" }, h("button", { type: "submit" }, "Create callback template")),
    h("p", { id: "callback-error", class: "error", role: "alert" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { TemplateName: form.TemplateName.value.trim() };
    if (form.CallbackKey.value) body.CallbackKey = form.CallbackKey.value;
    for (const [name] of URLS) if (form[name].value.trim()) body[name] = form[name].value.trim();
    try {
      await call("CreateLiveCallbackTemplate", body);
      await callbacks();
    } catch (e) {
      form.querySelector("#callback-error").textContent = `${e.code}: ${e.message}`;
    }
  });
  return form;
}

function ruleForm(templates) {
  const form = h("form", { id: "callback-rule-form", class: "inline", "aria-label": "New callback rule" },
    h("label", {}, "Domain", h("input", { name: "DomainName", required: true })),
    h("label", {}, "App", h("input", { name: "AppName", value: "live", required: true })),
    h("label", {}, "Template", h("select", { name: "TemplateId" },
      templates.map((t) => h("option", { value: t.TemplateId }, `${t.TemplateId} ${t.TemplateName}`)))),
    h("button", { type: "submit" }, "Create callback rule"),
    h("p", { id: "callback-rule-error", class: "error", role: "alert" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await call("CreateLiveCallbackRule", {
        DomainName: form.DomainName.value.trim(), AppName: form.AppName.value.trim(), TemplateId: Number(form.TemplateId.value),
      });
      await callbacks();
    } catch (e) {
      form.querySelector("#callback-rule-error").textContent = `${e.code}: ${e.message}`;
    }
  });
  return form;
}

function templateRow(t) {
  const events = URLS.filter(([name]) => t[name]).map(([name, text]) => `${text}: ${t[name]}`);
  return h("tr", { "data-callback-template": t.TemplateId },
    h("td", { class: "num" }, t.TemplateId), h("td", {}, t.TemplateName),
    h("td", {}, events.length ? h("ul", {}, events.map((e) => h("li", {}, e))) : "none"),
    h("td", {}, t.CallbackKey ? "set" : "none"),
    h("td", {}, h("button", {
      type: "button", class: "danger", "aria-label": `Delete callback template ${t.TemplateName}`,
      onclick: () => attempt(`Delete ${t.TemplateName}`, () => call("DeleteLiveCallbackTemplate", { TemplateId: t.TemplateId })),
    }, "Delete")));
}

function ruleRow(r) {
  const label = `${r.DomainName}/${r.AppName}`;
  return h("tr", { "data-callback-rule": label },
    h("td", {}, r.DomainName), h("td", {}, r.AppName), h("td", { class: "num" }, r.TemplateId),
    h("td", {}, h("button", {
      type: "button", class: "danger", "aria-label": `Delete callback rule ${label}`,
      onclick: () => attempt(`Delete rule ${label}`, () => call("DeleteLiveCallbackRule", { DomainName: r.DomainName, AppName: r.AppName })),
    }, "Delete")));
}

export async function callbacks() {
  const [{ Templates }, { Rules }, log] = await Promise.all([
    call("DescribeLiveCallbackTemplates", {}), call("DescribeLiveCallbackRules", {}), recentDeliveries()]);
  const templates = table(`${Templates.length} callback template(s) of at most 50`, ["Id", "Name", "Events", "Key", "Actions"],
    Templates.map(templateRow), "No callback templates yet.");
  templates.id = "callback-templates";
  const rules = table(`${Rules.length} callback rule(s)`, ["Domain", "App", "Template", "Actions"], Rules.map(ruleRow),
    "No callback rules: no events are sent.");
  rules.id = "callback-rules";
  const shown = log.DataInfoList.length < log.TotalNum ? `, the latest ${log.DataInfoList.length} shown` : "";
  const deliveries = table(`${log.TotalNum} delivery attempt(s) in the last 24 hours${shown}`,
    ["Time", "Event", "Stream", "Result", "Response"], log.DataInfoList.map(deliveryRow), "No callbacks sent in the last 24 hours.");
  deliveries.id = "callback-deliveries";
  show(h("section", { id: "callbacks", "aria-labelledby": "callbacks-title" },
    h("h1", { id: "callbacks-title" }, "Callbacks"),
    h("h2", {}, "Recent deliveries"), deliveries,
    h("h2", {}, "Templates"), templateForm(), templates,
    h("h2", {}, "Rules"), Templates.length ? ruleForm(Templates) : h("p", {}, "Create a callback template first."), rules));
}
