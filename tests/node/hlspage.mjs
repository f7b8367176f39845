// A test page under liverec's own origin: http://127.0.0.1:PORT/__test/page.html with
// hls.js and a muted <video id=video>, served by request interception (/playback and
// /vod without a key answer only loopback clients naming a loopback host). The
// interception ends once the page is loaded, so every media request reaches liverec
// untouched.
import { readFileSync } from "node:fs";

/** Opens the page in `browser` for server `base`, with hls.js read from `hlsJs`. */
export async function openHlsPage(browser, base, hlsJs, title = "test") {
  const page = await browser.newPage({ viewport: { width: 640, height: 480 } });
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  await page.route(`${base}/__test/**`, (route) => {
    const { pathname } = new URL(route.request().url());
    if (pathname === "/__test/page.html") {
      return route.fulfill({
        contentType: "text/html; charset=utf-8",
        body: `<!doctype html><title>${title}</title>
<body style="margin:0;background:#222"><video id="video" muted playsinline width="640" height="480"></video>
<script src="/__test/hls.min.js"></script></body>`,
      });
    }
    if (pathname === "/__test/hls.min.js") {
      return route.fulfill({ contentType: "text/javascript", body: readFileSync(hlsJs, "utf8") });
    }
    return route.fulfill({ status: 404 });
  });
  await page.goto(`${base}/__test/page.html`);
  await page.waitForFunction(() => typeof window.Hls === "function" && window.Hls.isSupported());
  await page.unrouteAll();
  return { page, problems };
}
