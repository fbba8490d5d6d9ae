import { spawn } from "node:child_process";
import { openSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * Starts `npm run dev` (scripts/dev.mjs) on 127.0.0.1:`port` in its own
 * process group, waits until /healthz answers, and stops it on exit.
 * `logFile` receives its output (default: discarded).
 */
export async function startDevServer({ port = "8787", logFile, timeoutMs = 120_000 } = {}) {
	const out = logFile ? openSync(logFile, "w") : "ignore";
	const server = spawn(process.execPath, [join(root, "scripts/dev.mjs")], {
		cwd: root,
		env: { ...process.env, PORT: String(port) },
		stdio: ["ignore", out, logFile ? out : "inherit"],
		detached: true,
	});
	const stop = () => {
		try {
			process.kill(-server.pid, "SIGTERM");
		} catch {}
	};
	process.on("exit", stop);
	const base = `http://127.0.0.1:${port}`;
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		try {
			if ((await fetch(`${base}/healthz`)).ok) return { base, stop };
		} catch {}
		if (Date.now() > deadline) {
			stop();
			throw new Error(`the dev server did not answer ${base}/healthz within ${timeoutMs / 1000} s`);
		}
		await new Promise((r) => setTimeout(r, 500));
	}
}
