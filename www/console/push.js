// Push: a domain's push keys (DescribeLivePushAuthKey / ModifyLivePushAuthKey), and push
// URLs signed with txSecret/txTime by the package's pushSecret — shown whole and as an
// OBS "server" plus "stream key".
import { call } from "./api.js";
import { h, pkg, show } from "./ui.js";

function keysForm(info) {
  const form = h("form", { id: "keys-form", class: "inline", "aria-label": "Push keys" },
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "Enable", checked: info.Enable === 1 }), " Push authentication on"),
    h("label", {}, "Master key", h("input", { name: "MasterAuthKey", value: info.MasterAuthKey ?? "" })),
    h("label", {}, "Backup key", h("input", { name: "BackupAuthKey", value: info.BackupAuthKey ?? "" })),
    h("label", {}, "Extra validity (s)", h("input", { name: "AuthDelta", inputmode: "numeric", value: info.AuthDelta ?? 0 })),
    h("button", { type: "submit" }, "Save keys"),
    h("p", { id: "keys-status", role: "status" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = form.querySelector("#keys-status");
    try {
      const keys = {
        Enable: form.Enable.checked ? 1 : 0, MasterAuthKey: form.MasterAuthKey.value,
        BackupAuthKey: form.BackupAuthKey.value, AuthDelta: Number(form.AuthDelta.value),
      };
      await call("ModifyLivePushAuthKey", { DomainName: info.DomainName, ...keys });
      Object.assign(info, keys); // the URL generator signs with the saved keys
      status.textContent = "Saved.";
    } catch (e) {
      status.textContent = `${e.code}: ${e.message}`;
    }
  });
  return form;
}

const isAddress = (host) => host === "localhost" || /^[\d.]+$/.test(host) || host.startsWith("[");

function generator(lib, info) {
  const hours = h("input", { name: "hours", inputmode: "numeric", value: "24" });
  const form = h("form", { id: "url-form", class: "inline", "aria-label": "Push URL" },
    h("label", {}, "Ingest address", h("input", { name: "ingest", value: `rtmp://${location.hostname}:1935` })),
    h("label", {}, "App", h("input", { name: "app", value: "live" })),
    h("label", {}, "Stream", h("input", { name: "stream", value: "stream1" })),
    h("label", {}, "Valid for (hours)", hours),
    h("button", { type: "submit" }, "Make URL"));
  const out = h("dl", { id: "push-url" });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const stream = form.stream.value.trim();
    let key = stream;
    if (info.Enable === 1 && info.MasterAuthKey) {
      if (!lib) {
        out.replaceChildren(h("dd", {}, "The npm package is not built into this server: no signed URL."));
        return;
      }
      const txTime = Math.floor(Date.now() / 1000 + Number(form.hours.value) * 3600).toString(16).toUpperCase();
      key = `${stream}?txSecret=${lib.pushSecret(info.MasterAuthKey, stream, txTime)}&txTime=${txTime}`;
    }
    const ingest = form.ingest.value.replace(/\/+$/, "");
    // A push to an address names its domain in the query (else the server's default).
    const host = ingest.replace(/^\w+:\/\//, "").replace(/:\d+$/, "");
    if (isAddress(host) && info.DomainName !== "localhost") {
      key += `${key.includes("?") ? "&" : "?"}domain=${encodeURIComponent(info.DomainName)}`;
    }
    const server = `${ingest}/${form.app.value.trim()}/`;
    out.replaceChildren(
      h("dt", {}, "Push URL"), h("dd", {}, h("code", { id: "push-url-full" }, `${server}${key}`)),
      h("dt", {}, "OBS server"), h("dd", {}, h("code", { id: "obs-server" }, server)),
      h("dt", {}, "OBS stream key"), h("dd", {}, h("code", { id: "obs-key" }, key)));
  });
  return h("div", {}, form, out);
}

export async function push() {
  // Pushes to an address belong to the server's default domain (localhost unless set).
  const domain = sessionStorage.getItem("liverec.console.domain") ?? (isAddress(location.hostname) ? "localhost" : location.hostname);
  const [lib, { PushAuthKeyInfo }] = await Promise.all([pkg, call("DescribeLivePushAuthKey", { DomainName: domain })]);
  const pick = h("form", { class: "inline", id: "domain-form", "aria-label": "Push domain" },
    h("label", {}, "Push domain", h("input", { name: "domain", value: domain })),
    h("button", { type: "submit" }, "Show"));
  pick.addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem("liverec.console.domain", pick.domain.value.trim());
    push();
  });
  show(h("section", { id: "push", "aria-labelledby": "push-title" },
    h("h1", { id: "push-title" }, "Push keys and URLs"),
    pick,
    h("h2", {}, `Keys of ${PushAuthKeyInfo.DomainName}`), keysForm(PushAuthKeyInfo),
    h("h2", {}, "Push URL"), generator(lib, PushAuthKeyInfo)));
}
