// `wrangler dev` servers on a private persist directory for end-to-end
// suites: state prepared once (migrations, a small seeded catalog), servers in
// their own process groups, always stopped at exit.
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { seedCatalog } from "../../../scripts/lib/seed-local.mjs";

export const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
export const wrangler = join(root, "node_modules", ".bin", process.platform === "win32" ? "wrangler.cmd" : "wrangler");
const childEnv = { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", FORCE_COLOR: "0" };

/** .dev.vars from .dev.vars.example when missing (wrangler dev reads it). */
export function ensureDevVars() {
	if (existsSync(join(root, ".dev.vars"))) return false;
	copyFileSync(join(root, ".dev.vars.example"), join(root, ".dev.vars"));
	return true;
}

/** A variable from .dev.vars (or .dev.vars.example). */
export function devVar(name, fallback) {
	for (const file of [".dev.vars", ".dev.vars.example"]) {
		const path = join(root, file);
		if (!existsSync(path)) continue;
		const line = readFileSync(path, "utf8")
			.split("\n")
			.find((l) => l.startsWith(`${name}=`));
		if (line)
			return line
				.slice(name.length + 1)
				.trim()
				.replace(/^"|"$/g, "");
	}
	return fallback;
}

export function freePort() {
	return new Promise((resolve, reject) => {
		const srv = createServer();
		srv.on("error", reject);
		srv.listen(0, "127.0.0.1", () => {
			const { port } = srv.address();
			srv.close(() => resolve(port));
		});
	});
}

/** Runs a command to completion, output appended to `logFile`; rejects on a non-zero exit. */
export function run(command, args, logFile) {
	return new Promise((resolve, reject) => {
		const out = openSync(logFile, "a");
		const child = spawn(command, args, { cwd: root, stdio: ["ignore", out, out], env: childEnv });
		child.on("error", reject);
		child.on("exit", (code) =>
			code === 0 ? resolve() : reject(new Error(`${command} ${args.join(" ")} exited with ${code} (see ${logFile})`)),
		);
	});
}

/** Migrations and a seeded catalog of `products` products in `persistDir`. */
export async function prepareState(persistDir, { products = 300, logFile, log = () => {} }) {
	await run(wrangler, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistDir], logFile);
	const { getPlatformProxy } = await import("wrangler");
	// `--persist-to DIR` keeps state under DIR/v3; the platform proxy takes that path itself.
	const proxy = await getPlatformProxy({
		configPath: join(root, "wrangler.toml"),
		persist: { path: join(persistDir, "v3") },
	});
	try {
		const row = await proxy.env.DB.prepare("SELECT count(*) AS n FROM products").first();
		if (Number(row?.n ?? 0) === 0)
			await seedCatalog(
				proxy.env.DB,
				{ seed: "tiercache", products, reviews: products * 3, categories: 24 },
				(line) => {
					if (/generated|done/.test(line)) log(line);
				},
			);
	} finally {
		await proxy.dispose();
	}
}

/** `wrangler d1 execute DB --local --persist-to DIR --command SQL`. */
export function d1Execute(persistDir, sql, logFile) {
	return run(wrangler, ["d1", "execute", "DB", "--local", "--persist-to", persistDir, "--command", sql], logFile);
}

const servers = new Set();
process.on("exit", () => {
	for (const s of servers) {
		try {
			process.kill(-s.child.pid, "SIGKILL");
		} catch {}
	}
});

/**
 * Starts `wrangler dev --test-scheduled` on a free port with `vars`
 * (`--var NAME:value`), in its own process group. Call `waitHealthy()`.
 */
export async function startWranglerDev({ name, persistDir, vars = {}, logFile }) {
	const port = await freePort();
	const inspectorPort = await freePort();
	const out = openSync(logFile, "w");
	const args = [
		"dev",
		"--test-scheduled",
		"--ip",
		"127.0.0.1",
		"--port",
		String(port),
		"--inspector-port",
		String(inspectorPort),
		"--persist-to",
		persistDir,
		"--show-interactive-dev-session=false",
	];
	for (const [k, v] of Object.entries({ ENVIRONMENT: "development", ...vars })) args.push("--var", `${k}:${v}`);
	const child = spawn(wrangler, args, { cwd: root, env: childEnv, stdio: ["ignore", out, out], detached: true });
	const server = { name, base: `http://127.0.0.1:${port}`, port, child, logFile, exited: false };
	server.exitedPromise = new Promise((resolve) =>
		child.on("exit", () => {
			server.exited = true;
			servers.delete(server);
			resolve();
		}),
	);
	server.stop = (signal = "SIGTERM") => {
		if (server.exited) return Promise.resolve();
		try {
			process.kill(-child.pid, signal);
		} catch {
			return Promise.resolve();
		}
		const timer = setTimeout(() => {
			try {
				process.kill(-child.pid, "SIGKILL");
			} catch {}
		}, 5000);
		timer.unref();
		return server.exitedPromise.then(() => clearTimeout(timer));
	};
	server.waitHealthy = async (timeoutMs = 90_000) => {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			if (server.exited) throw new Error(`${name} exited before /healthz answered (see ${logFile})`);
			try {
				if ((await fetch(`${server.base}/healthz`, { signal: AbortSignal.timeout(2000) })).ok) return;
			} catch {}
			if (Date.now() > deadline) throw new Error(`${name} did not answer /healthz within ${timeoutMs / 1000} s`);
			await new Promise((r) => setTimeout(r, 200));
		}
	};
	servers.add(server);
	return server;
}

export function stopAllServers() {
	return Promise.all([...servers].map((s) => s.stop()));
}
