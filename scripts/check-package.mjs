#!/usr/bin/env node
// npm run check:package — what CI checks of the tiercache package before it
// could be published: it builds; publint (strict) and are-the-types-wrong
// (ESM) are clean; the tarball ships the build, the engine's SQL, the CLI, the
// README and the license, and no tests or fixtures; every entry point has
// types; the API reference builds without a warning.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkgDir = join(root, "packages/tiercache");
const bin = (name) => join(root, "node_modules/.bin", name);
let failed = false;

function step(title, command, args, options = {}) {
	process.stdout.write(`check-package: ${title} … `);
	const result = spawnSync(command, args, { cwd: pkgDir, encoding: "utf8", ...options });
	if (result.status !== 0) {
		console.log("FAILED");
		console.log(result.stdout, result.stderr);
		failed = true;
		return undefined;
	}
	console.log("ok");
	return result.stdout;
}

function expect(condition, message) {
	console.log(`check-package: ${condition ? "ok" : "FAILED"}: ${message}`);
	if (!condition) failed = true;
}

step("build", "npm", ["run", "--silent", "build"]);
step("publint --strict", bin("publint"), ["--strict"]);
step("attw --profile esm-only", bin("attw"), ["--pack", ".", "--profile", "esm-only"]);
step("API reference (TypeDoc, warnings are errors)", "npm", ["run", "--silent", "docs:api"]);

const packed = step("npm pack --dry-run", "npm", ["pack", "--dry-run", "--json"]);
if (packed) {
	const files = JSON.parse(packed)[0].files.map((f) => f.path);
	const forbidden = files.filter((f) => /(^|\/)(test|tests|__tests__|fixtures?)\/|\.test\.|\.spec\./.test(f));
	expect(forbidden.length === 0, `the tarball ships no tests or fixtures (${forbidden.join(", ") || "none"})`);
	for (const needed of [
		"LICENSE",
		"README.md",
		"package.json",
		"dist/index.js",
		"dist/index.d.ts",
		"migrations/0000_tiercache.sql",
		"bin/tiercache-triggers.mjs",
	]) {
		expect(files.includes(needed), `the tarball ships ${needed}`);
	}
	console.log(`check-package: ${files.length} files in the tarball`);
}

const manifest = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
expect(manifest.sideEffects === false, "sideEffects: false");
expect(typeof manifest.license === "string" && manifest.license.length > 0, `a license (${manifest.license})`);
for (const entry of [".", "./purge", "./webhook", "./migrations"]) {
	const target = manifest.exports?.[entry];
	expect(Boolean(target?.types && target?.import), `exports["${entry}"] has types and import`);
}
if (failed) {
	console.error("check-package: FAILED");
	process.exit(1);
}
console.log("check-package: all checks passed");
