// Tasks: record a stream from a start to an end time (scheduled), or from now (the
// overview's "Record now" on a live push). List a week at a time (DescribeRecordTask's
// window is at most 7 days), page through with its ScrollToken, stop and delete.
import { call } from "./api.js";
import { h, notice, show, table, when } from "./ui.js";

const DAY = 86400;
const now = () => Math.floor(Date.now() / 1000);
let windowStart = null;

/** `datetime-local` value of Unix seconds, in local time. */
function local(seconds) {
  const d = new Date(seconds * 1000);
  d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
  return d.toISOString().slice(0, 16);
}

const unix = (value) => Math.floor(new Date(value).getTime() / 1000);

/** Starts a real-time task on a live stream now, for `minutes`. */
export async function recordNow(names, minutes) {
  return call("CreateRecordTask", { ...names, EndTime: now() + minutes * 60 });
}

function creator(templates) {
  const start = now() + 300;
  const form = h("form", { id: "task-form", class: "inline", "aria-label": "New task" },
    h("label", {}, "Domain", h("input", { name: "DomainName", required: true })),
    h("label", {}, "App", h("input", { name: "AppName", value: "live", required: true })),
    h("label", {}, "Stream", h("input", { name: "StreamName", required: true })),
    h("label", {}, "Start", h("input", { name: "StartTime", type: "datetime-local", value: local(start), required: true })),
    h("label", {}, "End", h("input", { name: "EndTime", type: "datetime-local", value: local(start + 3600), required: true })),
    h("label", {}, "Template", h("select", { name: "TemplateId" },
      h("option", { value: "" }, "default (HLS)"),
      templates.map((t) => h("option", { value: t.TemplateId }, `${t.TemplateId} ${t.TemplateName}`)))),
    h("button", { type: "submit" }, "Schedule"),
    h("p", { id: "task-error", class: "error", role: "alert" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const task = {
      DomainName: form.DomainName.value.trim(), AppName: form.AppName.value.trim(), StreamName: form.StreamName.value.trim(),
      StartTime: unix(form.StartTime.value), EndTime: unix(form.EndTime.value),
    };
    if (form.TemplateId.value) task.TemplateId = Number(form.TemplateId.value);
    try {
      await call("CreateRecordTask", task);
      await tasks();
    } catch (e) {
      form.querySelector("#task-error").textContent = `${e.code}: ${e.message}`;
    }
  });
  return form;
}

function row(t) {
  const running = !t.Stopped && t.StartTime <= now() && now() < t.EndTime;
  const state = t.Stopped ? "stopped" : t.EndTime <= now() ? "ended" : running ? "recording" : "scheduled";
  const act = (action, label) => h("button", {
    type: "button", class: "danger", "aria-label": `${label} ${t.TaskId}`,
    onclick: async () => {
      try {
        await call(action, { TaskId: t.TaskId });
        notice("");
      } catch (e) {
        notice(`${label} ${t.TaskId}: ${e.code} ${e.message}`);
      }
      await tasks();
    },
  }, label);
  return h("tr", { "data-task": t.TaskId },
    h("td", {}, `${t.DomainName}/${t.AppName}/${t.StreamName}`),
    h("td", {}, when(new Date(t.StartTime * 1000).toISOString())),
    h("td", {}, when(new Date(t.EndTime * 1000).toISOString())),
    h("td", {}, t.TemplateId || "default"),
    h("td", {}, state),
    h("td", {}, state === "stopped" || state === "ended" ? "" : act("StopRecordTask", "Stop"), " ", act("DeleteRecordTask", "Delete")));
}

/** Every task of the window, following ScrollToken. */
async function taskList(start) {
  const list = [];
  let token = "";
  do {
    const page = await call("DescribeRecordTask", { StartTime: start, EndTime: start + 7 * DAY, ...(token ? { ScrollToken: token } : {}) });
    list.push(...page.TaskList);
    token = page.ScrollToken;
  } while (token);
  return list;
}

export async function tasks() {
  windowStart ??= now() - DAY;
  const [{ Templates }, list] = await Promise.all([call("DescribeLiveRecordTemplates", {}), taskList(windowStart)]);
  const shift = (days) => h("button", {
    type: "button",
    onclick: () => {
      windowStart = Math.max(windowStart + days * DAY, now() - 89 * DAY);
      tasks().catch((e) => notice(`${e.code}: ${e.message}`));
    },
  }, days < 0 ? "Earlier week" : "Later week");
  const caption = `${list.length} task(s) starting and ending between ${when(new Date(windowStart * 1000).toISOString())} and ` +
    `${when(new Date((windowStart + 7 * DAY) * 1000).toISOString())}`;
  const listing = table(caption, ["Stream", "Start", "End", "Template", "State", "Actions"], list.map(row), "No tasks in this week.");
  listing.id = "tasks-list";
  show(h("section", { id: "tasks", "aria-labelledby": "tasks-title" },
    h("h1", { id: "tasks-title" }, "Record tasks"),
    h("p", {}, "A task records a stream between two times, beside what its rule records. Live pushes can be recorded from now on the overview."),
    creator(Templates),
    h("p", { class: "inline" }, shift(-7), shift(7)),
    listing));
}
