// The page's logic: thin glue between the form and the liverec package.
import init, { validateTemplate, renderFileName, pushSecret } from "../pkg/liverec.js";

await init();

const $ = (id) => document.getElementById(id);

function showError(target, error) {
  target.textContent = `${error.code ?? "Error"}: ${error.message}`;
  target.classList.add("error");
}

function validate() {
  const verdict = $("verdict");
  const body = $("errors").tBodies[0];
  body.replaceChildren();
  $("errors").hidden = true;
  verdict.className = "";
  let input;
  try {
    input = JSON.parse($("template").value);
  } catch (e) {
    verdict.textContent = `Not JSON: ${e.message}`;
    verdict.className = "bad";
    return;
  }
  let result;
  try {
    result = validateTemplate(input);
  } catch (e) {
    showError(verdict, e);
    return;
  }
  verdict.textContent = result.ok ? "Valid." : `${result.errors.length} problem(s).`;
  verdict.className = result.ok ? "ok" : "bad";
  for (const problem of result.errors) {
    const row = body.insertRow();
    for (const key of ["code", "field", "message"]) row.insertCell().textContent = problem[key];
  }
  $("errors").hidden = result.ok;
  $("normalized").textContent = JSON.stringify(result.template, null, 2);
}

function render() {
  const out = $("name");
  out.classList.remove("error");
  const end = Date.now();
  try {
    out.textContent = renderFileName($("pattern").value, {
      StreamID: $("stream").value,
      StartMs: end - 3_600_000,
      EndMs: end,
      UtcOffsetMinutes: Number($("offset").value),
    });
  } catch (e) {
    showError(out, e);
  }
}

function sign() {
  const out = $("push-url");
  out.classList.remove("error");
  const stream = $("push-stream").value;
  const expiry = Math.floor(Date.now() / 1000) + Number($("push-hours").value) * 3600;
  const txTime = expiry.toString(16).toUpperCase();
  try {
    const txSecret = pushSecret($("push-key").value, stream, txTime);
    const path = `${encodeURIComponent($("push-app").value)}/${encodeURIComponent(stream)}`;
    out.textContent = `rtmp://${$("push-domain").value}/${path}?txSecret=${txSecret}&txTime=${txTime}`;
  } catch (e) {
    showError(out, e);
  }
}

$("validate").addEventListener("click", validate);
$("render").addEventListener("click", render);
$("sign").addEventListener("click", sign);
validate();
render();
document.body.dataset.ready = "true";
