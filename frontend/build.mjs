// Copies the viewer's front-end libraries from node_modules into the Python package
// (mosaico/viewer/static/vendor), with the licence of every package whose code they bundle.
// The copies are committed: the wheel ships them and the viewer needs no network.
// Run: npm ci && npm run build
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "mosaico", "viewer", "static", "vendor");
const modules = join(here, "node_modules");

// [package, files copied as they are, licence files]
const packages = [
  ["uplot", ["dist/uPlot.iife.min.js", "dist/uPlot.min.css"], ["LICENSE"]],
  ["apache-arrow", ["Arrow.es2015.min.js"], ["LICENSE.txt", "NOTICE.txt"]],
  // Bundled inside Arrow.es2015.min.js:
  ["flatbuffers", [], ["LICENSE"]],
  ["tslib", [], ["LICENSE.txt"]],
  ["json-with-bigint", [], ["LICENSE"]],
];

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "licenses"), { recursive: true });
const manifest = {};
for (const [name, files, licences] of packages) {
  const meta = JSON.parse(readFileSync(join(modules, name, "package.json"), "utf8"));
  manifest[name] = { version: meta.version, license: meta.license, files: [] };
  for (const file of files) {
    const base = file.split("/").pop();
    copyFileSync(join(modules, name, file), join(out, base));
    manifest[name].files.push(base);
  }
  for (const licence of licences) {
    copyFileSync(join(modules, name, licence), join(out, "licenses", `${name}-${licence}`));
  }
}
writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`vendor files written to ${out}`);
