// Templates: list, create, edit, delete recording templates. The form is checked as you
// type with the package's validateTemplate — the very code the server runs, so it shows
// the codes and fields the server would answer — and previews VodFileName.
import { call } from "./api.js";
import { h, notice, pkg, show, table } from "./ui.js";

const FORMATS = [["FlvParam", "FLV"], ["HlsParam", "HLS"], ["Mp4Param", "MP4"], ["AacParam", "AAC (audio only)"]];
const FIELDS = [["RecordInterval", "Record interval (s)"], ["StorageTime", "Storage time (s, 0 = forever)"], ["VodFileName", "File name pattern"]];

function formatFieldset(key, label, param) {
  const id = (f) => `${key}.${f}`;
  return h("fieldset", {},
    h("legend", {}, label),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: id("Enable"), checked: param?.Enable === 1 }), " Record"),
    FIELDS.filter(([f]) => !(key === "HlsParam" && f === "RecordInterval")).map(([f, text]) =>
      h("label", {}, text, h("input", {
        name: id(f), value: param?.[f] ?? "", inputmode: f === "VodFileName" ? undefined : "numeric",
        "aria-describedby": `${id(f)}-error`,
      }), h("span", { id: `${id(f)}-error`, class: "error field-error" }))));
}

/** The template the form describes (only fields the user filled). */
function read(form) {
  const t = { TemplateName: form.TemplateName.value, Description: form.Description.value };
  for (const [key] of FORMATS) {
    const param = { Enable: form[`${key}.Enable`].checked ? 1 : 0 };
    for (const [f] of FIELDS) {
      const input = form[`${key}.${f}`];
      if (!input || input.value === "") continue;
      param[f] = f === "VodFileName" || Number.isNaN(Number(input.value)) ? input.value : Number(input.value);
    }
    t[key] = param;
  }
  const flow = form["HlsSpecialParam.FlowContinueDuration"].value;
  if (flow !== "") t.HlsSpecialParam = { FlowContinueDuration: Number.isNaN(Number(flow)) ? flow : Number(flow) };
  return t;
}

/** Checks the form with the package; marks the fields; returns the problems. */
function check(lib, form) {
  const problems = lib ? lib.validateTemplate(read(form)).errors : [];
  for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  const list = form.querySelector("#template-problems");
  list.replaceChildren(...problems.map((p) => h("li", {}, `${p.code} ${p.field}: ${p.message}`)));
  for (const p of problems) {
    const input = form.elements.namedItem(p.field);
    if (input instanceof HTMLElement) {
      input.setAttribute("aria-invalid", "true");
      const slot = document.getElementById(`${p.field}-error`);
      if (slot) slot.textContent = p.code;
    }
  }
  preview(lib, form);
  return problems;
}

function preview(lib, form) {
  const out = form.querySelector("#name-preview");
  const pattern = [...form.querySelectorAll("input[name$='.VodFileName']")].map((i) => i.value).find((v) => v) ?? "";
  if (!lib) return;
  const end = Date.now();
  try {
    const name = lib.renderFileName(pattern, { StreamID: "stream1", StartMs: end - 1800e3, EndMs: end });
    out.textContent = `A file of stream1 would be named: ${name}`;
  } catch (e) {
    out.textContent = `${e.code}: ${e.message}`;
  }
}

function editor(lib, existing) {
  const form = h("form", { id: "template-form", "aria-label": existing ? `Edit template ${existing.TemplateId}` : "New template" },
    h("h2", {}, existing ? `Edit template ${existing.TemplateId}` : "New template"),
    h("div", { class: "inline" },
      h("label", {}, "Name", h("input", { name: "TemplateName", value: existing?.TemplateName ?? "", required: true, "aria-describedby": "TemplateName-error" }),
        h("span", { id: "TemplateName-error", class: "error field-error" })),
      h("label", {}, "Description", h("input", { name: "Description", value: existing?.Description ?? "" })),
      h("label", {}, "HLS splice timeout (s)", h("input", {
        name: "HlsSpecialParam.FlowContinueDuration", value: existing?.HlsSpecialParam?.FlowContinueDuration ?? "",
        inputmode: "numeric", "aria-describedby": "HlsSpecialParam.FlowContinueDuration-error",
      }), h("span", { id: "HlsSpecialParam.FlowContinueDuration-error", class: "error field-error" }))),
    h("div", { class: "formats" }, FORMATS.map(([key, label]) => formatFieldset(key, label, existing?.[key]))),
    h("p", { id: "name-preview", role: "status" }),
    h("ul", { id: "template-problems", class: "error", "aria-live": "polite" }),
    h("div", { class: "inline" },
      h("button", { type: "submit" }, existing ? "Save" : "Create"),
      h("button", { type: "button", onclick: () => form.remove() }, "Cancel")));
  form.addEventListener("input", () => check(lib, form));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const template = read(form);
    try {
      if (existing) await call("ModifyLiveRecordTemplate", { TemplateId: existing.TemplateId, ...template });
      else await call("CreateLiveRecordTemplate", template);
      notice("");
      await templates();
    } catch (e) {
      form.querySelector("#template-problems").replaceChildren(h("li", { role: "alert" }, `${e.code}: ${e.message}`));
    }
  });
  check(lib, form);
  return form;
}

function open(lib, existing) {
  document.getElementById("template-form")?.remove();
  const form = editor(lib, existing);
  document.getElementById("templates-list").before(form);
  form.TemplateName.focus();
}

function row(lib, t) {
  const formats = FORMATS.filter(([key]) => t[key]?.Enable === 1).map(([, label]) => label.split(" ")[0]);
  return h("tr", { "data-template": t.TemplateId },
    h("td", { class: "num" }, t.TemplateId),
    h("td", {}, t.TemplateName),
    h("td", {}, formats.join(", ") || "nothing (does not record)"),
    h("td", {}, t.Description),
    h("td", {},
      h("button", { type: "button", "aria-label": `Edit ${t.TemplateName}`, onclick: () => open(lib, t) }, "Edit"), " ",
      h("button", {
        type: "button", class: "danger", "aria-label": `Delete ${t.TemplateName}`,
        onclick: async () => {
          try {
            await call("DeleteLiveRecordTemplate", { TemplateId: t.TemplateId });
            notice("");
          } catch (e) {
            notice(`Delete ${t.TemplateName}: ${e.code} ${e.message}`);
          }
          await templates();
        },
      }, "Delete")));
}

export async function templates() {
  const [lib, { Templates }] = await Promise.all([pkg, call("DescribeLiveRecordTemplates", {})]);
  const list = table(`${Templates.length} template(s) of at most 50`, ["Id", "Name", "Records", "Description", "Actions"],
    Templates.map((t) => row(lib, t)), "No templates yet.");
  list.id = "templates-list";
  show(h("section", { id: "templates", "aria-labelledby": "templates-title" },
    h("h1", { id: "templates-title" }, "Recording templates"),
    h("p", {}, h("button", { type: "button", onclick: () => open(lib, null) }, "New template")),
    list));
}
