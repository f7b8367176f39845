// Shared pieces of the console's pages: elements, notices, tables, formatting, and the
// npm package (./pkg/, embedded in the server beside these files).

const main = document.getElementById("main");

/** The npm package, initialised; null (with a notice) when the server lacks it. */
export const pkg = import("./pkg/liverec.js")
  .then(async (lib) => {
    await lib.default();
    return lib;
  })
  .catch((e) => {
    notice(`The npm package is not built into this server (${e.message}): run scripts/build-pkg.sh, then build the server again.`);
    return null;
  });

/** `h("td", {class: "num"}, "12")`: an element with attributes and children. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null) el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function notice(text) {
  const el = document.getElementById("notice");
  el.textContent = text;
  el.hidden = !text;
}

const pages = new Set();

/** Names the console's pages (the router's). */
export function registerPages(names) {
  for (const name of names) pages.add(name);
}

/** The page the address names (unknown names: the overview). */
export function currentPage() {
  const name = location.hash.replace(/^#\/?/, "") || "overview";
  return pages.has(name) ? name : "overview";
}

/**
 * Shows `nodes` in the main area. A page's `<section id=NAME>` is shown only while NAME
 * is the current page: a page that answers after the user moved on draws nothing.
 */
export function show(...nodes) {
  const [first] = nodes;
  if (first instanceof HTMLElement && first.tagName === "SECTION" && first.id !== currentPage()) return;
  main.replaceChildren(...nodes);
}

// ---- formatting ----

export const kbps = (bps) => `${Math.round(bps / 1000)} kbit/s`;
export const size = (bytes) => bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.round(bytes / 1e3)} kB`;

export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const hms = [Math.floor(s / 3600), Math.floor(s / 60) % 60, s % 60];
  return hms.map((n, i) => (i === 0 ? String(n) : String(n).padStart(2, "0"))).join(":");
}

export const when = (iso) => iso ? new Date(iso).toLocaleString() : "";

/** A table with a caption, column headings, and `rows` (or one row saying `empty`). */
export function table(caption, headings, rows, empty) {
  return h("table", {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headings.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: headings.length, class: "empty" }, empty))));
}
