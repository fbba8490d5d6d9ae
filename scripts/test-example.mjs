#!/usr/bin/env node
// npm run test:example [-- --keep] — the notes example (examples/notes)
// against tiercache as a user gets it: builds and packs the package,
// installs the tarball into examples/notes/node_modules (a copy, never the
// workspace symlink), checks that `tiercache` resolves there, that the
// committed migrations match the package (engine tables, generated
// triggers) and the Worker types match wrangler.toml, type-checks the
// example against the tarball's types, and runs its tests in workerd.
// Removes the installed copy afterwards (--keep leaves it, to rerun
// `npx vitest` in examples/notes). hono, drizzle-orm, zod, vitest, wrangler
// and esbuild come from the repository's node_modules (Node resolves up).
import { spawnSync } from "node:child_process";
import { copyFileSync, lstatSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const example = join(root, "examples/notes");
const installed = join(example, "node_modules/tiercache");
const started = performance.now();

let keep;
try {
	keep = parseArgs({ options: { keep: { type: "boolean", default: false } } }).values.keep;
} catch (err) {
	console.error(`test-example: ${err.message}\nusage: npm run test:example [-- --keep]`);
	process.exit(2);
}

class StepFailed extends Error {}

/** Runs one step, printing its name and time; its output only when it fails (or always, with `inherit`). */
function step(title, command, args, { cwd = example, inherit = false } = {}) {
	const begun = performance.now();
	if (inherit) console.log(`test-example: ${title} …`);
	else process.stdout.write(`test-example: ${title} … `);
	const result = spawnSync(command, args, {
		cwd,
		encoding: "utf8",
		stdio: inherit ? "inherit" : "pipe",
		env: { ...process.env, FORCE_COLOR: inherit ? process.env.FORCE_COLOR : "0" },
	});
	const seconds = ((performance.now() - begun) / 1000).toFixed(1);
	if (result.status !== 0) {
		if (inherit) console.log(`test-example: ${title} FAILED (${seconds} s)`);
		else console.log(`FAILED (${seconds} s)\n${result.stdout ?? ""}${result.stderr ?? ""}${result.error ?? ""}`);
		throw new StepFailed(title);
	}
	console.log(inherit ? `test-example: ${title} ok (${seconds} s)` : `ok (${seconds} s)`);
	return result.stdout;
}

function check(condition, message) {
	console.log(`test-example: ${condition ? "ok" : "FAILED"}: ${message}`);
	if (!condition) throw new StepFailed(message);
}

const packDir = mkdtempSync(join(tmpdir(), "tiercache-example-"));
const tarball = join(example, "tiercache.tgz");
let failed = false;
try {
	step("build tiercache", "npm", ["run", "--silent", "build", "-w", "tiercache"], { cwd: root });
	const packed = JSON.parse(
		step("npm pack -w tiercache", "npm", ["pack", "-w", "tiercache", "--pack-destination", packDir, "--json"], {
			cwd: root,
		}),
	)[0];
	// examples/notes/package.json depends on "file:tiercache.tgz".
	copyFileSync(join(packDir, packed.filename), tarball);
	// --legacy-peer-deps: the peers (hono, drizzle-orm, zod) are the repository's, not a second copy.
	step(`npm install ${packed.filename} into examples/notes`, "npm", [
		"install",
		"--no-save",
		"--no-package-lock",
		"--legacy-peer-deps",
		"--ignore-scripts",
		"--no-audit",
		"--no-fund",
	]);

	check(!lstatSync(installed).isSymbolicLink(), "examples/notes/node_modules/tiercache is a copy, not a link");
	const version = JSON.parse(readFileSync(join(installed, "package.json"), "utf8")).version;
	check(version === packed.version, `the installed copy is the packed version (${version})`);
	const entries = ["tiercache", "tiercache/purge", "tiercache/webhook", "tiercache/migrations"];
	const resolved = JSON.parse(
		step("resolve the entry points from examples/notes", process.execPath, [
			"--input-type=module",
			"--eval",
			`console.log(JSON.stringify(${JSON.stringify(entries)}.map((entry) => import.meta.resolve(entry))))`,
		]),
	).map((url) => fileURLToPath(url));
	entries.forEach((entry, i) => {
		const path = resolved[i];
		check(path.startsWith(join(installed, "dist") + sep), `${entry} → ${path.slice(root.length + 1)}`);
	});

	const engineSql = (dir) => readFileSync(join(dir, "migrations/0000_tiercache.sql"), "utf8");
	check(
		engineSql(example) === engineSql(installed),
		"migrations/0000_tiercache.sql is the package's migrations/0000_tiercache.sql",
	);
	step("tiercache-triggers --check (migrations/0002_triggers.sql)", "npx", [
		"--no-install",
		"tiercache-triggers",
		"src/invalidation.ts",
		"migrations/0002_triggers.sql",
		"--check",
	]);
	step("wrangler types --check", "npx", ["--no-install", "wrangler", "types", "--check"]);
	step("tsc (src, against the tarball's types)", "npx", ["--no-install", "tsc", "-p", "tsconfig.json"]);
	step("tsc (test)", "npx", ["--no-install", "tsc", "-p", "test/tsconfig.json"]);
	step("vitest run (workerd)", "npx", ["--no-install", "vitest", "run"], { inherit: true });
} catch (err) {
	if (!(err instanceof StepFailed)) throw err;
	failed = true;
} finally {
	rmSync(packDir, { recursive: true, force: true });
	rmSync(tarball, { force: true });
	if (!keep) rmSync(join(example, "node_modules"), { recursive: true, force: true });
}

const total = ((performance.now() - started) / 1000).toFixed(1);
if (failed) {
	console.error(`test-example: FAILED (${total} s)`);
	process.exit(1);
}
console.log(`test-example: the notes example passes against the packed tiercache ${keep ? "(kept) " : ""}(${total} s)`);
