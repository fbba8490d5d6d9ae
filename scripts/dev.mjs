#!/usr/bin/env node
// npm run dev [-- <extra wrangler dev flags>]
// 1. .dev.vars from .dev.vars.example when missing; 2. vendored page scripts;
// 3. local D1 migrations; 4. the seed catalog when the database is empty;
// 5. wrangler dev --test-scheduled on 127.0.0.1:8787 (PORT, or --ip and --port
//    after --, choose others).
import { spawn } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { openLocalD1 } from "./lib/local-d1.mjs";
import { countProducts, seedCatalog } from "./lib/seed-local.mjs";
import { vendorAssets } from "./vendor-assets.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);
const wrangler = join(root, "node_modules", ".bin", process.platform === "win32" ? "wrangler.cmd" : "wrangler");

function run(command, args) {
	return new Promise((resolve, reject) => {
		// stdin is not a TTY, so wrangler applies local migrations without asking.
		const child = spawn(command, args, { stdio: ["ignore", "inherit", "inherit"] });
		child.on("error", reject);
		child.on("exit", (code) =>
			code === 0 ? resolve() : reject(new Error(`${command} ${args.join(" ")} exited with ${code}`)),
		);
	});
}

try {
	if (!existsSync(".dev.vars")) {
		copyFileSync(".dev.vars.example", ".dev.vars");
		console.log("dev: created .dev.vars from .dev.vars.example (development secrets)");
	}
	vendorAssets();
	console.log("dev: applying migrations to the local D1 database");
	await run(wrangler, ["d1", "migrations", "apply", "DB", "--local"]);
	const { db, dispose } = await openLocalD1();
	try {
		const existing = await countProducts(db);
		if (existing === 0) await seedCatalog(db, { seed: "tiercache", products: 10_000, reviews: 50_000, categories: 24 });
		else
			console.log(
				`dev: the local database has ${existing} products; not seeding (npm run seed -- --reset to start over)`,
			);
	} finally {
		await dispose();
	}
} catch (err) {
	console.error(`dev: ${err.message}`);
	process.exit(1);
}

// `--ip` and `--port` given after `--` replace these defaults (wrangler takes each once).
const extra = process.argv.slice(2);
const given = (flag) => extra.some((arg) => arg === flag || arg.startsWith(`${flag}=`));
const defaults = [
	...(given("--ip") ? [] : ["--ip", "127.0.0.1"]),
	...(given("--port") ? [] : ["--port", process.env.PORT ?? "8787"]),
];
const child = spawn(wrangler, ["dev", "--test-scheduled", ...defaults, ...extra], { stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
