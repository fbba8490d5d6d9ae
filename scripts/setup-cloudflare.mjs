#!/usr/bin/env node
// npm run setup:cloudflare [-- --dry-run]
// Creates the D1 database, the KV namespace, the purge queue and its
// dead-letter queue with wrangler, writes their ids into wrangler.toml, and
// prints the secrets to set. --dry-run prints the plan and needs no account.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { applyIds, PLACEHOLDERS, secretSteps, setupPlan } from "./lib/setup-plan.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values: args } = parseArgs({ options: { "dry-run": { type: "boolean", default: false } } });
const dryRun = args["dry-run"];
const tomlPath = join(root, "wrangler.toml");
const toml = readFileSync(tomlPath, "utf8");
const wrangler = join(root, "node_modules", ".bin", "wrangler");
const randomBase64 = (n) => randomBytes(n).toString("base64");

console.log(dryRun ? "setup:cloudflare — plan (--dry-run: nothing is run)\n" : "setup:cloudflare\n");
const ids = {};
for (const [i, step] of setupPlan().entries()) {
	const command = `npx wrangler ${step.args.join(" ")}`;
	console.log(`${i + 1}. ${step.what}\n   $ ${command}`);
	if (dryRun) {
		if (step.id) console.log(`   → its id replaces the placeholder ${PLACEHOLDERS[step.id]} in wrangler.toml`);
		continue;
	}
	const result = spawnSync(wrangler, step.args, { cwd: root, encoding: "utf8", stdio: ["inherit", "pipe", "pipe"] });
	const output = `${result.stdout}${result.stderr}`;
	if (result.status !== 0) {
		console.error(output);
		console.error(
			`setup:cloudflare: '${command}' failed. If the resource exists, put its id in wrangler.toml and run again.`,
		);
		process.exit(1);
	}
	if (step.id) {
		const id = step.parse(output);
		if (!id) {
			console.error(output);
			console.error(`setup:cloudflare: could not read the ${step.what} id from wrangler's output`);
			process.exit(1);
		}
		ids[step.id] = id;
		console.log(`   → ${id}`);
	}
}
if (!dryRun) {
	writeFileSync(tomlPath, applyIds(toml, ids));
	console.log("\nwrangler.toml: ids written.");
} else {
	const missing = Object.values(PLACEHOLDERS).filter((p) => !toml.includes(`"${p}"`));
	console.log(
		missing.length
			? "\nwrangler.toml already has real ids: the id steps would fail to replace anything."
			: "\nwrangler.toml: placeholders found; ids would be written there.",
	);
}
console.log("\nThen set the secrets (fresh random values shown) and deploy:");
for (const line of secretSteps(randomBase64)) console.log(`   ${line}`);
