#!/usr/bin/env node
// Copies the browser scripts that the Worker's pages load (/docs, /_cache) from
// node_modules into public/vendor/, so they are served by the Worker's static
// assets and work offline, with no third-party CDN. Runs on postinstall.
import { copyFileSync, existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

const ASSETS = [
	{
		// Not in the package's "exports", so read from its folder.
		from: () => join(root, "node_modules/@scalar/api-reference/dist/browser/standalone.js"),
		to: "public/vendor/scalar-api-reference.js",
	},
	// Charts of the /_cache page.
	{ from: () => join(root, "node_modules/uplot/dist/uPlot.iife.min.js"), to: "public/vendor/uplot.js" },
	{ from: () => join(root, "node_modules/uplot/dist/uPlot.min.css"), to: "public/vendor/uplot.css" },
];

export function vendorAssets({ quiet = false } = {}) {
	for (const asset of ASSETS) {
		const from = asset.from();
		const to = join(root, asset.to);
		if (existsSync(to) && statSync(to).size === statSync(from).size) continue;
		mkdirSync(dirname(to), { recursive: true });
		copyFileSync(from, to);
		if (!quiet) console.log(`vendor-assets: ${asset.to} (${Math.round(statSync(to).size / 1024)} KiB)`);
	}
}

if (process.argv[1] === fileURLToPath(import.meta.url)) vendorAssets();
