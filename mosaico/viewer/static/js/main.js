// The viewer's router: #/ is the catalog, #/sequence/NAME?... a sequence, #/query the query
// page. Every page renders into <main id="page">; errors show in the banner above it.
import { ApiError } from "./api.js";
import { catalogPage } from "./catalog.js";
import { clearError, showError } from "./errors.js";
import { queryPage } from "./query.js";
import { sequencePage } from "./sequence.js";

const page = document.getElementById("page");

let renders = 0;

function route() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, search] = hash.split("?");
  const params = new URLSearchParams(search || "");
  clearError();
  page.replaceChildren();
  // `render` counts pages rendered, so a test can tell a new page from the last one.
  window.mosaicoViewer = { ready: false, render: ++renders };
  let work;
  if (path === "/" || path === "") work = catalogPage(page, params);
  else if (path.startsWith("/sequence/")) {
    work = sequencePage(page, decodeURIComponent(path.slice("/sequence/".length)), params);
  } else if (path === "/query") work = queryPage(page, params);
  else work = Promise.reject(new ApiError(`no page ${path}: go to the catalog`));
  Promise.resolve(work)
    .catch(showError)
    .finally(() => { window.mosaicoViewer.ready = true; });
}

window.addEventListener("hashchange", route);
window.addEventListener("unhandledrejection", (event) => showError(event.reason));
route();
