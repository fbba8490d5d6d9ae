#!/usr/bin/env node
// npm run test:isolates [-- --rounds N --sql-rounds N --products N --keep]
//
// Three isolates at one location: three `wrangler dev` servers on this
// checkout sharing one persist directory (a fresh temp dir, never
// .wrangler/state), hence one local D1, KV and Cache API.
//
// 1. Invalidation clock across isolates (per round, a new product N): B
//    accepts two signed webhook purges within one second, B reads N twice
//    (fills the shared tiers), A PATCHes N's name, C reads N 2.5 s after the
//    write was committed: it must get the new name. A second set of rounds has
//    C read 1.1 s after the write instead (reported; the contract says "about
//    a second").
// 2. Raw SQL: product M warm at all three, `wrangler d1 execute … UPDATE
//    products SET name = …`, then every server is polled until it serves the
//    new name: each must within 2 s of the command's exit.
//
// Exits non-zero when a read was stale beyond its bound or a step failed.
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { seedCatalog } from "../../scripts/lib/seed-local.mjs";
import { signWebhook } from "../../scripts/lib/webhook-sign.mjs";
import { devVar, freePort } from "./lib/wrangler-dev.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
process.chdir(root);
const wrangler = join(root, "node_modules", ".bin", process.platform === "win32" ? "wrangler.cmd" : "wrangler");

const { values: args } = parseArgs({
	options: {
		rounds: { type: "string", default: "5" },
		"sql-rounds": { type: "string", default: "2" },
		products: { type: "string", default: "300" },
		keep: { type: "boolean", default: false },
	},
});
const ROUNDS = Number(args.rounds);
const SQL_ROUNDS = Number(args["sql-rounds"]);
const SEED_PRODUCTS = Math.max(200, Number(args.products));
/** C reads this long after the PATCH answered (the write is committed before the answer). */
const C_DELAY_MS = 2500;
const C_EARLY_DELAY_MS = 1100;
/** Raw SQL: every server must serve the new name this soon after the command exits. */
const SQL_BOUND_MS = 2000;
const SQL_GIVE_UP_MS = 10_000;
const POLL_MS = 50;

const started = performance.now();
const stamp = () => `${((performance.now() - started) / 1000).toFixed(1).padStart(5)}s`;
const log = (line) => console.log(`isolates ${stamp()} ${line}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

// ---------------------------------------------------------------------------
// Local state

if (!existsSync(".dev.vars")) {
	copyFileSync(".dev.vars.example", ".dev.vars");
	log("created .dev.vars from .dev.vars.example (development secrets)");
}
const ADMIN_TOKEN = process.env.ADMIN_TOKEN ?? devVar("ADMIN_TOKEN", "dev-admin-token");
// With several secrets (a rotation), sign with the first.
const WEBHOOK_SECRET = (process.env.PURGE_WEBHOOK_SECRET ?? devVar("PURGE_WEBHOOK_SECRET", "")).split(/\s+/)[0];

const persistDir = mkdtempSync(join(tmpdir(), "tiercache-isolates-"));
const logDir = join(persistDir, "logs");
mkdirSync(logDir);
const childEnv = { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", FORCE_COLOR: "0" };

/** Runs a command to completion (output to `logFile`); rejects on a non-zero exit. */
function run(command, commandArgs, logFile) {
	return new Promise((resolve, reject) => {
		const out = openSync(join(logDir, logFile), "a");
		const child = spawn(command, commandArgs, { stdio: ["ignore", out, out], env: childEnv });
		child.on("error", reject);
		child.on("exit", (code) =>
			code === 0
				? resolve()
				: reject(new Error(`${command} ${commandArgs.join(" ")} exited with ${code} (see ${join(logDir, logFile)})`)),
		);
	});
}

// ---------------------------------------------------------------------------
// Servers, always stopped at exit

const servers = [];
let stopping;

function stopServers() {
	stopping ??= Promise.all(
		servers.map(
			(s) =>
				new Promise((resolve) => {
					if (s.exited) return resolve();
					s.child.once("exit", resolve);
					try {
						process.kill(-s.child.pid, "SIGTERM");
					} catch {
						return resolve();
					}
					setTimeout(() => {
						try {
							process.kill(-s.child.pid, "SIGKILL");
						} catch {}
						resolve();
					}, 5000).unref();
				}),
		),
	);
	return stopping;
}
process.on("exit", () => {
	for (const s of servers) {
		if (s.exited) continue;
		try {
			process.kill(-s.child.pid, "SIGKILL");
		} catch {}
	}
});
for (const signal of ["SIGINT", "SIGTERM"]) {
	process.on(signal, async () => {
		log(`${signal}: stopping the servers`);
		await stopServers();
		process.exit(130);
	});
}

async function startServer(name) {
	const port = await freePort();
	const inspectorPort = await freePort();
	const logFile = join(logDir, `server-${name}.log`);
	const out = openSync(logFile, "w");
	const child = spawn(
		wrangler,
		[
			"dev",
			"--ip",
			"127.0.0.1",
			"--port",
			String(port),
			"--inspector-port",
			String(inspectorPort),
			"--persist-to",
			persistDir,
			"--var",
			"ENVIRONMENT:development",
			"--show-interactive-dev-session=false",
		],
		{ cwd: root, env: childEnv, stdio: ["ignore", out, out], detached: true },
	);
	const server = { name, base: `http://127.0.0.1:${port}`, child, logFile, exited: false, busyRetries: 0 };
	child.on("exit", () => {
		server.exited = true;
	});
	servers.push(server);
	return server;
}

async function waitHealthy(server, timeoutMs = 90_000) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		if (server.exited) throw new Error(`server ${server.name} exited before /healthz answered (see ${server.logFile})`);
		try {
			if ((await fetch(`${server.base}/healthz`)).ok) return;
		} catch {}
		if (Date.now() > deadline)
			throw new Error(`server ${server.name} did not answer /healthz within ${timeoutMs / 1000} s`);
		await sleep(250);
	}
}

// ---------------------------------------------------------------------------
// HTTP

const busy = { total: 0 };

/**
 * One request; a 503 `origin_unavailable` (local D1 is one SQLite file that
 * three servers share: SQLITE_BUSY) is retried up to 5 times and counted.
 */
async function call(server, method, path, { headers = {}, body } = {}) {
	for (let attempt = 0; ; attempt++) {
		const t0 = performance.now();
		const response = await fetch(`${server.base}${path}`, { method, headers, body });
		const text = await response.text();
		const ms = performance.now() - t0;
		let json;
		try {
			json = JSON.parse(text);
		} catch {}
		if (response.status === 503 && json?.error?.code === "origin_unavailable" && attempt < 5) {
			server.busyRetries++;
			busy.total++;
			log(`  ${server.name} ${method} ${path}: 503 origin_unavailable, retrying (${attempt + 1}/5)`);
			await sleep(100 * (attempt + 1));
			continue;
		}
		return { status: response.status, headers: response.headers, json, text, ms };
	}
}

async function readProduct(server, id) {
	const r = await call(server, "GET", `/v1/products/${id}`);
	if (r.status !== 200) throw new Error(`${server.name} GET /v1/products/${id} → ${r.status} ${r.text.slice(0, 200)}`);
	return {
		name: r.json.data.name,
		cacheStatus: r.headers.get("cache-status") ?? "",
		at: performance.now(),
		ms: r.ms,
	};
}

async function patchName(server, id, name) {
	const r = await call(server, "PATCH", `/v1/products/${id}`, {
		headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
		body: JSON.stringify({ name }),
	});
	if (r.status !== 200)
		throw new Error(`${server.name} PATCH /v1/products/${id} → ${r.status} ${r.text.slice(0, 200)}`);
	if (r.json.data?.name !== name && r.json.name !== name)
		throw new Error(`${server.name} PATCH answered without the new name`);
	return performance.now();
}

async function purge(server, tags) {
	const body = JSON.stringify({ tags });
	const headers = await signWebhook(WEBHOOK_SECRET, body);
	const r = await call(server, "POST", "/v1/webhooks/purge", { headers, body });
	if (r.status !== 202)
		throw new Error(`${server.name} webhook purge ${tags.join(",")} → ${r.status} ${r.text.slice(0, 200)}`);
	return { seq: r.json.seq, timestamp: Number(headers["webhook-timestamp"]), at: performance.now() };
}

async function stats(server) {
	const r = await call(server, "GET", "/v1/_cache/stats", { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
	return r.status === 200 ? r.json : { error: `${r.status} ${r.text.slice(0, 200)}` };
}

function describeStats(server, s) {
	if (s.error) return `${server.name}: stats unavailable (${s.error})`;
	const c = s.clock;
	const t = s.tiers ?? {};
	const tier = (n) => `${n} ${t[n]?.hits ?? "?"}h/${t[n]?.misses ?? "?"}m/${t[n]?.invalidated ?? "?"}inv`;
	const clock = c
		? `clock d1Reads=${c.d1Reads} sharedReads=${c.sharedReads} tagLookups=${c.tagLookups} waits=${c.waits} ` +
			`failures=${c.failures} counter=${c.counter} viewAgeMs=${c.viewAgeMs}`
		: "no clock in the stats";
	return `${server.name}: ${clock} | origin loads=${s.origin?.loads} | ${tier("memory")}, ${tier("colo")}, ${tier("kv")}`;
}

// ---------------------------------------------------------------------------
// Scenarios

const failures = [];
const report = { crossIsolate: [], crossIsolateEarly: [], rawSql: [] };

/** Two purges at B within one wall-clock second (both webhook timestamps equal). */
async function twoPurgesInOneSecond(B, id) {
	const msIntoSecond = Date.now() % 1000;
	if (msIntoSecond > 500) await sleep(1000 - msIntoSecond + 5);
	const first = await purge(B, [`product:${id}`]);
	const second = await purge(B, [`product:${id}`, "products"]);
	return {
		sameSecond: first.timestamp === second.timestamp,
		gapMs: Math.round(second.at - first.at),
		seqs: [first.seq, second.seq],
	};
}

async function crossIsolateRound([A, B, C], round, id, delayMs) {
	const purges = await twoPurgesInOneSecond(B, id);
	const b1 = await readProduct(B, id);
	const b2 = await readProduct(B, id);
	const oldName = b2.name;
	const newName = `isolates ${round} ${Date.now().toString(36)}`;
	const committedAt = await patchName(A, id, newName);
	await sleep(committedAt + delayMs - performance.now());
	const c = await readProduct(C, id);
	const fresh = c.name === newName;
	const result = {
		round,
		id,
		delayMs,
		fresh,
		readAfterMs: Math.round(c.at - c.ms - committedAt),
		cacheStatus: c.cacheStatus,
		bCacheStatus: [b1.cacheStatus, b2.cacheStatus],
		purges,
	};
	log(
		`  round ${round} (product ${id}): purges seq ${purges.seqs.join(",")} ` +
			`${purges.sameSecond ? "in one second" : "across a second boundary"} (${purges.gapMs} ms apart); ` +
			`B ${b2.cacheStatus.includes("hit") ? "hit" : "loaded"}; C at +${result.readAfterMs} ms: ` +
			`${fresh ? "FRESH" : `STALE ("${c.name}", expected "${newName}", was "${oldName}")`} — ${c.cacheStatus}`,
	);
	if (!fresh) {
		result.stats = {};
		for (const s of [A, B, C]) {
			const st = await stats(s);
			result.stats[s.name] = st.clock;
			log(`    ${describeStats(s, st)}`);
		}
	}
	return result;
}

function sqlQuote(s) {
	return `'${s.replaceAll("'", "''")}'`;
}

async function rawSqlRound(all, round, id) {
	// Warm at every server: the second read is served by a tier.
	const warm = [];
	for (const s of all) {
		await readProduct(s, id);
		warm.push(`${s.name} ${(await readProduct(s, id)).cacheStatus.includes("hit") ? "hit" : "not hit"}`);
	}
	const newName = `raw sql ${round} ${Date.now().toString(36)}`;
	const commandStarted = performance.now();
	await run(
		wrangler,
		[
			"d1",
			"execute",
			"DB",
			"--local",
			"--persist-to",
			persistDir,
			"--command",
			`UPDATE products SET name = ${sqlQuote(newName)} WHERE id = ${id}`,
		],
		"d1-execute.log",
	);
	const exitedAt = performance.now();
	const perServer = {};
	await Promise.all(
		all.map(async (s) => {
			let staleReads = 0;
			let staleBeyondBound = 0;
			for (;;) {
				const r = await readProduct(s, id);
				if (r.name === newName) {
					perServer[s.name] = {
						convergenceMs: Math.max(0, Math.round(r.at - r.ms - exitedAt)),
						staleReads,
						staleBeyondBound,
						cacheStatus: r.cacheStatus,
					};
					return;
				}
				staleReads++;
				if (r.at - r.ms - exitedAt > SQL_BOUND_MS) staleBeyondBound++;
				if (r.at - exitedAt > SQL_GIVE_UP_MS) {
					perServer[s.name] = {
						convergenceMs: null,
						staleReads,
						staleBeyondBound,
						cacheStatus: r.cacheStatus,
						lastName: r.name,
					};
					return;
				}
				await sleep(POLL_MS);
			}
		}),
	);
	const result = {
		round,
		id,
		commandMs: Math.round(exitedAt - commandStarted),
		perServer,
		warm,
	};
	log(
		`  raw SQL ${round} (product ${id}; warm: ${warm.join(", ")}; command ${result.commandMs} ms): ` +
			all
				.map((s) => {
					const p = perServer[s.name];
					return p.convergenceMs === null
						? `${s.name} never (after ${SQL_GIVE_UP_MS} ms, still "${p.lastName}")`
						: `${s.name} ${p.convergenceMs} ms (${p.staleReads} stale polls)`;
				})
				.join(", "),
	);
	if (all.some((s) => perServer[s.name].convergenceMs === null || perServer[s.name].convergenceMs > SQL_BOUND_MS)) {
		result.stats = {};
		for (const s of all) {
			const st = await stats(s);
			result.stats[s.name] = st.clock;
			log(`    ${describeStats(s, st)}`);
		}
	}
	return result;
}

// ---------------------------------------------------------------------------
// Main

let exitCode = 0;
try {
	if (!/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(WEBHOOK_SECRET))
		throw new Error("PURGE_WEBHOOK_SECRET (from .dev.vars) is not a whsec_ secret");
	log(`persist directory ${persistDir} (shared by the three servers)`);
	log("applying migrations to the local D1 database");
	await run(wrangler, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistDir], "migrations.log");

	log(`seeding ${SEED_PRODUCTS} products`);
	const { getPlatformProxy } = await import("wrangler");
	// `--persist-to DIR` keeps state under DIR/v3; the platform proxy takes that path itself.
	const proxy = await getPlatformProxy({ configPath: "wrangler.toml", persist: { path: join(persistDir, "v3") } });
	try {
		const row = await proxy.env.DB.prepare("SELECT count(*) AS n FROM products").first();
		if (Number(row?.n ?? 0) === 0)
			await seedCatalog(
				proxy.env.DB,
				{ seed: "tiercache", products: SEED_PRODUCTS, reviews: SEED_PRODUCTS * 3, categories: 24 },
				(line) => {
					if (/generated|done/.test(line)) log(line);
				},
			);
	} finally {
		await proxy.dispose();
	}

	log("starting servers A, B, C (wrangler dev)");
	const all = [await startServer("A"), await startServer("B"), await startServer("C")];
	await Promise.all(all.map((s) => waitHealthy(s)));
	log(`servers up: ${all.map((s) => `${s.name} ${s.base}`).join(", ")}`);

	log(`scenario 1: cross-isolate invalidation, C reads ${C_DELAY_MS} ms after the write (${ROUNDS} rounds)`);
	for (let r = 1; r <= ROUNDS; r++) report.crossIsolate.push(await crossIsolateRound(all, r, 100 + r, C_DELAY_MS));

	log(`scenario 1b: the same, C reads ${C_EARLY_DELAY_MS} ms after the write (${ROUNDS} rounds)`);
	for (let r = 1; r <= ROUNDS; r++)
		report.crossIsolateEarly.push(await crossIsolateRound(all, r, 120 + r, C_EARLY_DELAY_MS));

	log(`scenario 2: raw SQL through wrangler d1 execute (${SQL_ROUNDS} rounds)`);
	for (let r = 1; r <= SQL_ROUNDS; r++) report.rawSql.push(await rawSqlRound(all, r, 140 + r));

	const finalStats = {};
	for (const s of all) finalStats[s.name] = await stats(s);

	// Report
	const stale = report.crossIsolate.filter((r) => !r.fresh);
	const staleEarly = report.crossIsolateEarly.filter((r) => !r.fresh);
	const statusOf = (rows) => [...new Set(rows.filter((r) => r.fresh).map((r) => r.cacheStatus))];
	console.log("\n=== three isolates at one location: report ===");
	console.log(`cross-isolate, C at +${C_DELAY_MS} ms: ${stale.length} of ${report.crossIsolate.length} reads stale`);
	for (const cs of statusOf(report.crossIsolate)) console.log(`  fresh answers' Cache-Status: ${cs}`);
	console.log(
		`cross-isolate, C at +${C_EARLY_DELAY_MS} ms: ${staleEarly.length} of ${report.crossIsolateEarly.length} reads stale` +
			" (informational: the contract says about a second)",
	);
	for (const cs of statusOf(report.crossIsolateEarly)) console.log(`  fresh answers' Cache-Status: ${cs}`);
	console.log(`raw SQL (wrangler d1 execute), ms from the command's exit to fresh (bound ${SQL_BOUND_MS} ms):`);
	for (const r of report.rawSql) {
		console.log(`  round ${r.round} (product ${r.id}, command ran ${r.commandMs} ms):`);
		for (const [name, p] of Object.entries(r.perServer))
			console.log(
				`    ${name}: ${p.convergenceMs === null ? "never" : `${p.convergenceMs} ms`}, ` +
					`${p.staleReads} stale polls (${p.staleBeyondBound} beyond the bound); Cache-Status: ${p.cacheStatus}`,
			);
	}
	console.log(
		`503 origin_unavailable retried: ${busy.total} (${all.map((s) => `${s.name} ${s.busyRetries}`).join(", ")})`,
	);
	const busyInLogs = all.map(
		(s) => `${s.name} ${(readFileSync(s.logFile, "utf8").match(/SQLITE_BUSY/g) ?? []).length}`,
	);
	console.log(`SQLITE_BUSY in the server logs: ${busyInLogs.join(", ")}`);
	const reloads = all.map((s) => `${s.name} ${(readFileSync(s.logFile, "utf8").match(/Reloading/g) ?? []).length}`);
	console.log(`wrangler reloads (src/ edited during the run): ${reloads.join(", ")}`);
	console.log("clock stats at the end:");
	for (const s of all) console.log(`  ${describeStats(s, finalStats[s.name])}`);

	if (stale.length > 0) failures.push(`${stale.length} stale read(s) at C ${C_DELAY_MS} ms after the write`);
	for (const r of report.rawSql) {
		for (const [name, p] of Object.entries(r.perServer)) {
			if (p.convergenceMs === null || p.convergenceMs > SQL_BOUND_MS)
				failures.push(
					`raw SQL round ${r.round}: server ${name} ${p.convergenceMs === null ? "never converged" : `converged in ${p.convergenceMs} ms`}`,
				);
		}
	}
	if (staleEarly.length > 0)
		console.log(`WARNING: ${staleEarly.length} stale read(s) at C ${C_EARLY_DELAY_MS} ms after the write`);
} catch (err) {
	failures.push(`error: ${err.stack ?? err.message}`);
}

await stopServers();
const seconds = ((performance.now() - started) / 1000).toFixed(1);
if (failures.length > 0) {
	exitCode = 1;
	console.log(`\nFAILED in ${seconds} s:\n- ${failures.join("\n- ")}`);
	console.log(`logs and state kept in ${persistDir}`);
} else {
	console.log(`\nPASSED in ${seconds} s`);
	if (args.keep) console.log(`logs and state kept in ${persistDir}`);
	else rmSync(persistDir, { recursive: true, force: true });
}
process.exit(exitCode);
