// Each statement below must be a type error (package.test.mjs counts exactly 6).
import { validateTemplate, resolveRule, renderFileName, pushSecret, Playlist } from "../../../pkg/liverec.js";

validateTemplate({ TemplateName: 5 });
resolveRule([{ DomainName: "d" }], { DomainName: "d" });
renderFileName("", { StreamID: "s", StartMs: "0", EndMs: 1 });
pushSecret("k", "s", 5);
Playlist.parse("#EXTM3U\n").__liverecHandle;
Playlist.parse("#EXTM3U\n", 5);
