// Rules: which template records which streams. List, create, delete, and a "which
// template applies?" box that resolves a stream with the package's resolveRule — the
// server's own priority (domain+app+stream > domain+stream > domain+app > domain).
import { call } from "./api.js";
import { h, notice, pkg, show, table } from "./ui.js";

const LEVELS = { 1: "domain + app + stream", 2: "domain + stream", 3: "domain + app", 4: "domain" };

function creator(templates) {
  const form = h("form", { id: "rule-form", class: "inline", "aria-label": "New rule" },
    h("label", {}, "Domain", h("input", { name: "DomainName", required: true, placeholder: "push.example.com" })),
    h("label", {}, "App (empty: any)", h("input", { name: "AppName" })),
    h("label", {}, "Stream (empty: any)", h("input", { name: "StreamName" })),
    h("label", {}, "Template", h("select", { name: "TemplateId", required: true },
      templates.map((t) => h("option", { value: t.TemplateId }, `${t.TemplateId} ${t.TemplateName}`)))),
    h("button", { type: "submit" }, "Create rule"),
    h("p", { id: "rule-error", class: "error", role: "alert" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const rule = { DomainName: form.DomainName.value.trim(), TemplateId: Number(form.TemplateId.value) };
    if (form.AppName.value.trim()) rule.AppName = form.AppName.value.trim();
    if (form.StreamName.value.trim()) rule.StreamName = form.StreamName.value.trim();
    try {
      await call("CreateLiveRecordRule", rule);
      await rules();
    } catch (e) {
      form.querySelector("#rule-error").textContent = `${e.code}: ${e.message}`;
    }
  });
  return form;
}

function resolver(lib, ruleList, templates) {
  const out = h("p", { id: "resolved", role: "status" });
  const form = h("form", { id: "resolve-form", class: "inline", "aria-label": "Which template applies?" },
    h("label", {}, "Domain", h("input", { name: "DomainName" })),
    h("label", {}, "App", h("input", { name: "AppName", value: "live" })),
    h("label", {}, "Stream", h("input", { name: "StreamName" })));
  const resolve = () => {
    if (!lib) {
      out.textContent = "The npm package is not built into this server.";
      return;
    }
    const stream = { DomainName: form.DomainName.value.trim(), AppName: form.AppName.value.trim(), StreamName: form.StreamName.value.trim() };
    if (!stream.DomainName) {
      out.textContent = "";
      return;
    }
    const found = lib.resolveRule(ruleList, stream);
    if (!found) {
      out.textContent = "No rule applies: this stream is not recorded by a rule.";
      return;
    }
    const template = templates.find((t) => t.TemplateId === found.rule.TemplateId);
    out.textContent = `Template ${found.rule.TemplateId} (${template?.TemplateName ?? "unknown"}) applies, by the rule on ` +
      `${LEVELS[found.priority]} (priority ${found.priority}).`;
  };
  form.addEventListener("input", resolve);
  form.addEventListener("submit", (event) => event.preventDefault());
  return h("div", {}, form, out);
}

function row(r) {
  const names = { DomainName: r.DomainName, AppName: r.AppName ?? "", StreamName: r.StreamName ?? "" };
  const label = `${r.DomainName}/${r.AppName || "*"}/${r.StreamName || "*"}`;
  return h("tr", { "data-rule": label },
    h("td", {}, r.DomainName), h("td", {}, r.AppName || "any"), h("td", {}, r.StreamName || "any"),
    h("td", { class: "num" }, r.TemplateId),
    h("td", {}, h("button", {
      type: "button", class: "danger", "aria-label": `Delete rule ${label}`,
      onclick: async () => {
        try {
          await call("DeleteLiveRecordRule", names);
          notice("");
        } catch (e) {
          notice(`Delete rule ${label}: ${e.code} ${e.message}`);
        }
        await rules();
      },
    }, "Delete")));
}

export async function rules() {
  const [lib, { Rules }, { Templates }] = await Promise.all([
    pkg, call("DescribeLiveRecordRules", {}), call("DescribeLiveRecordTemplates", {}),
  ]);
  const list = table(`${Rules.length} rule(s) of at most 50`, ["Domain", "App", "Stream", "Template", "Actions"],
    Rules.map(row), "No rules yet: nothing is recorded by a rule.");
  list.id = "rules-list";
  show(h("section", { id: "rules", "aria-labelledby": "rules-title" },
    h("h1", { id: "rules-title" }, "Recording rules"),
    Templates.length ? creator(Templates) : h("p", {}, "Create a template first: a rule binds one to streams."),
    list,
    h("h2", {}, "Which template applies?"),
    resolver(lib, Rules, Templates)));
}
