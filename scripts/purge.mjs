#!/usr/bin/env node
// npm run purge -- --tag product:1 [--tag …] [--everything] [--url http://127.0.0.1:8787]
// Sends a signed (Standard Webhooks) call to POST /v1/webhooks/purge with the
// secret from PURGE_WEBHOOK_SECRET or .dev.vars; prints the answer; exits
// non-zero when the call fails.
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { signWebhook } from "./lib/webhook-sign.mjs";

function fail(message, code = 2) {
	console.error(`purge: ${message}`);
	process.exit(code);
}

let args;
try {
	args = parseArgs({
		options: {
			tag: { type: "string", multiple: true, default: [] },
			everything: { type: "boolean", default: false },
			url: { type: "string", default: "http://127.0.0.1:8787" },
			help: { type: "boolean", short: "h", default: false },
		},
	}).values;
} catch (err) {
	fail(err.message);
}
if (args.help) {
	console.log("usage: npm run purge -- --tag <tag> [--tag <tag> …] | --everything [--url <base url>]");
	process.exit(0);
}
if (args.everything === args.tag.length > 0) fail("give one or more --tag, or --everything");
for (const tag of args.tag) {
	if (!/^[\x21-\x2B\x2D-\x7E]{1,1024}$/.test(tag))
		fail(`'${tag}' is not a tag (printable ASCII, no spaces or commas, ≤ 1024 characters)`);
}
if (args.tag.length > 100) fail("at most 100 tags per call");

function secretFromDevVars() {
	if (!existsSync(".dev.vars")) return undefined;
	const line = readFileSync(".dev.vars", "utf8")
		.split("\n")
		.find((l) => l.startsWith("PURGE_WEBHOOK_SECRET="));
	return line?.slice("PURGE_WEBHOOK_SECRET=".length).trim().replace(/^"|"$/g, "");
}
// With several secrets (a rotation), sign with the first.
const secret = (process.env.PURGE_WEBHOOK_SECRET ?? secretFromDevVars())?.split(/\s+/)[0];
if (!secret) fail("no secret: set PURGE_WEBHOOK_SECRET or create .dev.vars (npm run dev does)");
if (!/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(secret)) fail("PURGE_WEBHOOK_SECRET is not a whsec_ secret");

const body = JSON.stringify(args.everything ? { purgeEverything: true } : { tags: args.tag });

let url;
try {
	url = new URL("/v1/webhooks/purge", args.url);
} catch {
	fail(`--url '${args.url}' is not a URL`);
}
try {
	const response = await fetch(url, {
		method: "POST",
		headers: await signWebhook(secret, body),
		body,
	});
	const text = await response.text();
	console.log(`${response.status} ${response.statusText}`);
	console.log(text);
	process.exit(response.ok ? 0 : 1);
} catch (err) {
	fail(`could not reach ${url}: ${err.cause?.message ?? err.message}`, 1);
}
