#!/usr/bin/env node
// npm run dev:edge [-- <extra wrangler dev flags>]
//
// The dev server (`npm run dev`, 127.0.0.1:8787) and, once it answers, a
// Varnish edge cache in front of it on 127.0.0.1:8080 with edge/varnish.vcl.
// A purge token is drawn for this run: the Worker gets it with
// `--var VARNISH_PURGE_URL:… --var VARNISH_PURGE_TOKEN:…`, the VCL only its
// digests. Varnish's files live in .wrangler/varnish/. Ctrl-C stops both; if
// either stops, so does the other, and this exits non-zero.
//
// Environment: PORT (Worker, default 8787), EDGE_PORT (default 8080),
// EDGE_STORAGE (varnishd -s, default malloc,64m).
import { spawn } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { newPurgeToken, renderEdgeVcl } from "./lib/edge-vcl.mjs";
import {
	checkVcl,
	findVarnishTool,
	INSTALL_HINT,
	startVarnishd,
	stopGroup,
	varnishVersion,
	writePrivateFile,
} from "./lib/varnish.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);
const WORKER_PORT = Number(process.env.PORT ?? 8787);
const EDGE_PORT = Number(process.env.EDGE_PORT ?? 8080);
const STORAGE = process.env.EDGE_STORAGE ?? "malloc,64m";
const WORKER = `http://127.0.0.1:${WORKER_PORT}`;
const EDGE = `http://127.0.0.1:${EDGE_PORT}`;

const log = (line) => console.log(`dev:edge: ${line}`);
function fail(message) {
	console.error(`dev:edge: ${message}`);
	process.exit(1);
}

function portFree(port) {
	return new Promise((resolve) => {
		const server = createServer();
		server.once("error", () => resolve(false));
		server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
	});
}

// ---------------------------------------------------------------------------
// Checks before anything starts

const varnishd = findVarnishTool("varnishd");
if (!varnishd) fail(`varnishd (Varnish) is not installed. To run the edge cache, ${INSTALL_HINT}.`);
const version = varnishVersion(varnishd) ?? "varnish";
for (const [port, what] of [
	[WORKER_PORT, "the dev server (PORT)"],
	[EDGE_PORT, "the edge (EDGE_PORT)"],
]) {
	if (!(await portFree(port)))
		fail(
			`127.0.0.1:${port}, for ${what}, is in use (another npm run dev or dev:edge?). Stop it or choose another port.`,
		);
}

const base = join(root, ".wrangler", "varnish");
const workdir = join(base, "instance");
const vclFile = join(base, "tiercache.vcl");
const tokenFile = join(base, "purge-token");
mkdirSync(base, { recursive: true, mode: 0o700 });
const token = newPurgeToken();
// No health probe: wrangler dev keeps a probe's connection open (edge/varnish.vcl).
writePrivateFile(vclFile, renderEdgeVcl({ backendHost: "127.0.0.1", backendPort: WORKER_PORT, token, probe: false }));
try {
	checkVcl(varnishd, vclFile, join(base, "compile-check"));
} catch (err) {
	fail(`${err.message}\nIf the xkey vmod is missing: ${INSTALL_HINT}.`);
}
log(`${version} at ${varnishd}; VCL ${relative(root, vclFile)} (backend ${WORKER}, this run's purge token)`);

// ---------------------------------------------------------------------------
// Children, always stopped together

const children = [];
let shuttingDown = false;

async function shutdown(code, reason) {
	if (shuttingDown) return;
	shuttingDown = true;
	if (reason) (code === 0 ? log : (l) => console.error(`dev:edge: ${l}`))(reason);
	await Promise.all(children.map((c) => c.stop()));
	rmSync(tokenFile, { force: true });
	process.exit(code);
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
	process.on(signal, () => shutdown(0, `${signal}: stopping the edge and the dev server`));
}
process.on("exit", () => {
	for (const c of children) {
		try {
			process.kill(-c.child.pid, "SIGKILL");
		} catch {}
	}
});

// The dev server, in its own process group (wrangler and workerd under it).
log(`starting the dev server (npm run dev) on ${WORKER}`);
const dev = spawn(
	process.execPath,
	[
		join(root, "scripts", "dev.mjs"),
		"--var",
		`VARNISH_PURGE_URL:${EDGE}/`,
		"--var",
		`VARNISH_PURGE_TOKEN:${token}`,
		...process.argv.slice(2),
	],
	{
		cwd: root,
		env: { ...process.env, PORT: String(WORKER_PORT) },
		stdio: ["ignore", "inherit", "inherit"],
		detached: true,
	},
);
const devExited = new Promise((resolve) => dev.on("exit", (code, signal) => resolve({ code, signal })));
children.push({ name: "dev server", child: dev, stop: () => stopGroup(dev, devExited) });
devExited.then(({ code, signal }) =>
	shutdown(1, `the dev server stopped (${signal ?? `exit ${code}`}); stopping the edge`),
);

// Wait for the Worker.
const deadline = Date.now() + 300_000;
for (;;) {
	if (shuttingDown) await new Promise(() => {});
	try {
		if ((await fetch(`${WORKER}/healthz`, { signal: AbortSignal.timeout(2000) })).ok) break;
	} catch {}
	if (Date.now() > deadline) await shutdown(1, `the dev server did not answer ${WORKER}/healthz within 300 s`);
	await new Promise((r) => setTimeout(r, 250));
}

log(`the dev server answers; starting the edge (varnishd) on ${EDGE}`);
let edge;
try {
	edge = await startVarnishd({
		varnishd,
		workdir,
		vclFile,
		listen: `127.0.0.1:${EDGE_PORT}`,
		storage: STORAGE,
		stdio: ["ignore", "inherit", "inherit"],
		probeUrl: `${EDGE}/healthz`,
	});
} catch (err) {
	await shutdown(1, err.message);
}
children.push({ name: "edge", child: edge.child, stop: edge.stop });
edge.exited.then(({ code, signal }) =>
	shutdown(1, `varnishd stopped (${signal ?? `exit ${code}`}); stopping the dev server`),
);

// The token works (a purge of a key nothing carries).
const check = await fetch(`${EDGE}/`, {
	method: "PURGE",
	headers: { "X-Purge-Token": token, "xkey-purge": "tiercache-edge:self-check" },
});
if (check.status !== 200 || check.headers.get("x-purged") !== "0")
	await shutdown(1, `the edge refused this run's purge token (${check.status}); the VCL's token check is broken`);
writePrivateFile(tokenFile, `${token}\n`);

const rel = (p) => relative(root, p);
console.log(
	[
		"",
		`dev:edge: ready — ${version} in front of the Worker`,
		`  edge (use this)   ${EDGE}        Cache-Status ends with "tiercache-edge; …"`,
		`  worker            ${WORKER}`,
		`  purge by key      curl -X PURGE -H "X-Purge-Token: $(cat ${rel(tokenFile)})" -H "xkey-purge: product:1" ${EDGE}/`,
		`  edge log / stats  varnishlog -n ${rel(workdir)}   varnishstat -n ${rel(workdir)}`,
		"  Ctrl-C stops both.",
		"",
	].join("\n"),
);
