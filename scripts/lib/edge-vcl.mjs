#!/usr/bin/env node
// The effective edge VCL: edge/varnish.vcl with the backend address and the
// purge token's digests filled in.
//
//   node scripts/lib/edge-vcl.mjs --backend-host 127.0.0.1 --backend-port 8787 \
//     [--host-header api.example.com] [--token-env VARNISH_PURGE_TOKEN] \
//     [--previous-token-env OLD_TOKEN] [--purge-from 127.0.0.1/32,198.51.100.0/24] [--no-probe] > tiercache.vcl
//
// Tokens are read from environment variables (never from argv, which other
// users of the machine can see). Without one, the output refuses every PURGE.
// With --previous-token-env too, both tokens are accepted (for a rotation).
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
export const VCL_TEMPLATE = join(root, "edge", "varnish.vcl");

/** Prefixes of the four digests the VCL compares (edge_digest.key("<prefix>" + token)). */
const DIGEST_PREFIXES = [
	"tiercache-edge-purge/1:",
	"tiercache-edge-purge/2:",
	"tiercache-edge-purge/3:",
	"tiercache-edge-purge/4:",
];
/** What the VCL accepts as a token before it hashes it. */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{32,256}$/;

/** A fresh random purge token (256 bits, base64url). */
export function newPurgeToken() {
	return randomBytes(32).toString("base64url");
}

/**
 * What vmod_directors' shard.key(STRING) returns for `s` in Varnish 7.1: the
 * last 32 bits of SHA-256(s), read in the machine's (little-endian) order.
 */
export function shardKey(s) {
	return createHash("sha256").update(s, "utf8").digest().readUInt32LE(28);
}

/** The check of X-Purge-Token against one token or several (a rotation accepts the old and the new). */
function tokenCheck(tokens) {
	const list = [tokens].flat();
	if (list.length === 0) throw new Error("no purge token");
	for (const token of list)
		if (!TOKEN_PATTERN.test(token)) throw new Error("a purge token must be 32–256 characters of [A-Za-z0-9_-]");
	const matches = list.map(
		(token) =>
			`(${DIGEST_PREFIXES.map((prefix) => `edge_digest.key("${prefix}" + req.http.X-Purge-Token) == ${shardKey(prefix + token)}`).join(" &&\n\t      ")})`,
	);
	return [
		"sub edge_purge_token_check {",
		`\t# Rendered: digests of ${list.length === 1 ? "the token" : `${list.length} tokens (a rotation)`} (see scripts/lib/edge-vcl.mjs).`,
		`\tif (req.http.X-Purge-Token !~ "^[A-Za-z0-9_-]{32,256}$") {`,
		'\t\treturn (synth(401, "Wrong purge token"));',
		"\t}",
		`\tif (!(${matches.join(" ||\n\t    ")})) {`,
		'\t\treturn (synth(401, "Wrong purge token"));',
		"\t}",
		"}",
	].join("\n");
}

function vclString(value, what) {
	if (!/^[A-Za-z0-9.:_-]+$/.test(value))
		throw new Error(`${what} ${JSON.stringify(value)} is not a plain host name, address or port`);
	return value;
}

/** "192.0.2.0/24" or "::1" → an ACL line. */
function aclEntry(cidr) {
	const match = /^([0-9A-Fa-f.:]+)(?:\/(\d{1,3}))?$/.exec(cidr.trim());
	if (!match) throw new Error(`${JSON.stringify(cidr)} is not an address or CIDR block`);
	return `\t"${match[1]}"${match[2] ? `/${match[2]}` : ""};`;
}

/**
 * Renders the template. `token` (a string, or several during a rotation)
 * undefined keeps the shipped "refuse every purge" check.
 */
export function renderEdgeVcl({
	backendHost = "127.0.0.1",
	backendPort = 8787,
	hostHeader,
	token,
	probe = true,
	purgeFrom,
	template = readFileSync(VCL_TEMPLATE, "utf8"),
} = {}) {
	let vcl = template;
	const replaceLine = (marker, pattern, replacement) => {
		const re = new RegExp(`^(.*)${pattern}(.*# @render ${marker})$`, "m");
		if (!re.test(vcl)) throw new Error(`the VCL template has no line marked "@render ${marker}"`);
		vcl = vcl.replace(re, (_, before, after) => `${before}${replacement}${after}`);
	};
	replaceLine("backend-host", '\\.host = "[^"]*";', `.host = "${vclString(backendHost, "backend host")}";`);
	replaceLine("backend-port", '\\.port = "[^"]*";', `.port = "${vclString(String(backendPort), "backend port")}";`);
	if (hostHeader)
		vcl = vcl.replace(
			/^(.*# @render backend-port)$/m,
			`$1\n\t.host_header = "${vclString(hostHeader, "host header")}";`,
		);
	if (purgeFrom !== undefined) {
		const block = /^\t# @render-begin purge-from\n[\s\S]*?^\t# @render-end purge-from$/m;
		if (!block.test(vcl)) throw new Error("the VCL template has no purge-from block");
		const entries = [purgeFrom].flat().map(aclEntry);
		vcl = vcl.replace(block, `\t# @render-begin purge-from\n${entries.join("\n")}\n\t# @render-end purge-from`);
	}
	if (!probe) {
		const block = /^\t# @render-begin probe\n[\s\S]*?^\t# @render-end probe\n/m;
		if (!block.test(vcl)) throw new Error("the VCL template has no probe block");
		vcl = vcl.replace(block, "\t# (rendered without the health probe)\n");
	}
	if (token !== undefined) {
		const block = /^# @render-begin purge-token\n[\s\S]*?^# @render-end purge-token$/m;
		if (!block.test(vcl)) throw new Error("the VCL template has no purge-token block");
		vcl = vcl.replace(block, `# @render-begin purge-token\n${tokenCheck(token)}\n# @render-end purge-token`);
	}
	return vcl;
}

// CLI
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	const { values } = parseArgs({
		options: {
			"backend-host": { type: "string", default: "127.0.0.1" },
			"backend-port": { type: "string", default: "8787" },
			"host-header": { type: "string" },
			"token-env": { type: "string" },
			"previous-token-env": { type: "string" },
			"no-probe": { type: "boolean", default: false },
			"purge-from": { type: "string" },
			template: { type: "string" },
		},
	});
	try {
		const fromEnv = (name) => {
			if (!process.env[name]) throw new Error(`the environment variable ${name} is not set`);
			return process.env[name];
		};
		let token;
		if (values["token-env"]) token = [fromEnv(values["token-env"])];
		if (values["previous-token-env"]) {
			if (!token) throw new Error("--previous-token-env needs --token-env");
			token.push(fromEnv(values["previous-token-env"]));
		}
		process.stdout.write(
			renderEdgeVcl({
				backendHost: values["backend-host"],
				backendPort: values["backend-port"],
				hostHeader: values["host-header"],
				token,
				probe: !values["no-probe"],
				purgeFrom: values["purge-from"]?.split(",").filter(Boolean),
				template: values.template ? readFileSync(values.template, "utf8") : undefined,
			}),
		);
	} catch (err) {
		console.error(`edge-vcl: ${err.message}`);
		process.exit(1);
	}
}
