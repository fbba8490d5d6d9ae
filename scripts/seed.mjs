#!/usr/bin/env node
// npm run seed -- [--products N] [--reviews N] [--categories N] [--seed S] [--reset]
// Loads a deterministic catalog into the local D1 database that `npm run dev` serves.
import { parseArgs } from "node:util";
import { openLocalD1 } from "./lib/local-d1.mjs";
import { countProducts, seedCatalog } from "./lib/seed-local.mjs";

function positiveInt(name, value, fallback) {
	if (value === undefined) return fallback;
	if (!/^[0-9]+$/.test(value) || Number(value) < 0 || Number(value) > 5_000_000) {
		console.error(`seed: --${name} must be an integer from 0 to 5000000 (got '${value}')`);
		process.exit(2);
	}
	return Number(value);
}

let args;
try {
	args = parseArgs({
		options: {
			products: { type: "string" },
			reviews: { type: "string" },
			categories: { type: "string" },
			seed: { type: "string", default: "tiercache" },
			reset: { type: "boolean", default: false },
			"if-empty": { type: "boolean", default: false },
			help: { type: "boolean", short: "h", default: false },
		},
	}).values;
} catch (err) {
	console.error(`seed: ${err.message}`);
	process.exit(2);
}
if (args.help) {
	console.log(
		"usage: npm run seed -- [--products N] [--reviews N] [--categories N] [--seed S] [--reset] [--if-empty]\n" +
			"  defaults: 10000 products, 5 reviews per product, 24 categories, seed 'tiercache'\n" +
			"  --reset     replace an existing catalog\n" +
			"  --if-empty  do nothing when the database already has products",
	);
	process.exit(0);
}
const products = positiveInt("products", args.products, 10_000);
const options = {
	seed: args.seed,
	products,
	reviews: positiveInt("reviews", args.reviews, products * 5),
	categories: Math.max(1, positiveInt("categories", args.categories, 24)),
	reset: args.reset,
};

const { db, dispose } = await openLocalD1();
try {
	const existing = await countProducts(db).catch((err) => {
		throw new Error(`the local database has no catalog tables; run 'npm run migrate:local' first (${err.message})`);
	});
	if (existing > 0 && args["if-empty"]) {
		console.log(`seed: the local database already has ${existing} products; leaving it as it is`);
	} else if (existing > 0 && !options.reset) {
		console.error(`seed: the local database already has ${existing} products; pass --reset to replace them`);
		process.exitCode = 1;
	} else {
		await seedCatalog(db, options);
	}
} catch (err) {
	console.error(`seed: ${err.message}`);
	process.exitCode = 1;
} finally {
	await dispose();
}
