import { spawn, spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";

export const INSTALL_HINT =
	"install Varnish 7.1+ and varnish-modules (for the xkey vmod): on Debian/Ubuntu " +
	"`sudo apt-get install varnish varnish-modules` (then `sudo systemctl disable --now varnish` " +
	"if you do not want the system service); elsewhere, Varnish from your package manager and " +
	"varnish-modules built for the same Varnish version";

/** The first executable `name` on PATH or in the sbin folders packages use, or undefined. */
export function findVarnishTool(name = "varnishd") {
	const dirs = [
		...(process.env.PATH ?? "").split(delimiter),
		"/usr/sbin",
		"/usr/local/sbin",
		"/opt/homebrew/sbin",
		"/usr/bin",
	];
	for (const dir of dirs) {
		if (!dir) continue;
		const file = join(dir, name);
		try {
			accessSync(file, constants.X_OK);
			return file;
		} catch {}
	}
	return undefined;
}

/** `varnishd -V` (e.g. "varnish-7.1.1"), or undefined. */
export function varnishVersion(varnishd) {
	const r = spawnSync(varnishd, ["-V"], { encoding: "utf8" });
	return /varnish-[\d.]+/.exec(`${r.stdout}${r.stderr}`)?.[0];
}

/**
 * As root, varnishd's default jail (unix) reads the VCL as the varnish user,
 * which cannot read our owner-only file: run unjailed (a local development
 * cache). Other users get no jail anyway.
 */
function jailArgs() {
	return process.getuid?.() === 0 ? ["-j", "none"] : [];
}

/**
 * Compiles `vclFile` without starting anything (`varnishd -C`). Throws with
 * the compiler's message when it fails (for instance: the xkey vmod missing).
 */
export function checkVcl(varnishd, vclFile, workdir) {
	mkdirSync(workdir, { recursive: true });
	const r = spawnSync(varnishd, ["-C", "-n", resolve(workdir), "-f", resolve(vclFile), ...jailArgs()], {
		encoding: "utf8",
	});
	if (r.status !== 0) {
		const message = (r.stderr || r.stdout || "")
			.split("\n")
			.filter((l) => l.trim() && !/^Could not delete/.test(l))
			.slice(0, 12)
			.join("\n");
		throw new Error(`varnishd could not compile ${vclFile}:\n${message}`);
	}
}

/**
 * Parameters the edge needs beyond Varnish's defaults: a Surrogate-Key header
 * may be as long as Cloudflare's Cache-Tag limit (16 KB; the default limit on
 * one response header is 8 KB, past which the fetch fails with a 503).
 */
export const EDGE_PARAMS = { http_resp_hdr_len: "24k", http_resp_size: "96k" };

/**
 * Starts `varnishd -F` (in its own process group) with the VCL `vclFile`,
 * working directory `workdir` (created; it holds the shared memory log that
 * varnishlog and varnishstat read with `-n workdir`), listening on `listen`
 * (one or more "host:port"). Resolves once `probeUrl` answers at all.
 */
export async function startVarnishd({
	varnishd,
	workdir,
	vclFile,
	listen,
	storage = "malloc,64m",
	params = EDGE_PARAMS,
	stdio = ["ignore", "inherit", "inherit"],
	probeUrl,
	timeoutMs = 20_000,
}) {
	mkdirSync(workdir, { recursive: true });
	// varnishd works in `workdir`: both paths absolute.
	const args = ["-F", "-n", resolve(workdir), "-f", resolve(vclFile), "-s", storage, ...jailArgs()];
	for (const address of [listen].flat()) args.push("-a", address);
	for (const [name, value] of Object.entries(params)) args.push("-p", `${name}=${value}`);
	const child = spawn(varnishd, args, { stdio, detached: true });
	const state = { exited: false, code: null, signal: null };
	const exited = new Promise((resolve) => {
		child.on("exit", (code, signal) => {
			Object.assign(state, { exited: true, code, signal });
			resolve({ code, signal });
		});
		child.on("error", (err) => {
			Object.assign(state, { exited: true, code: -1, error: err });
			resolve({ code: -1, error: err });
		});
	});
	const stop = () => stopGroup(child, exited);
	if (probeUrl) {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			if (state.exited) throw new Error(`varnishd exited (${state.code ?? state.signal}) before it answered`);
			try {
				await fetch(probeUrl, { signal: AbortSignal.timeout(1000) });
				break;
			} catch {}
			if (Date.now() > deadline) {
				await stop();
				throw new Error(`varnishd did not answer ${probeUrl} within ${timeoutMs / 1000} s`);
			}
			await new Promise((r) => setTimeout(r, 100));
		}
	}
	return { child, args, exited, state, stop };
}

/**
 * SIGTERM to the process group of `child`, SIGKILL after `graceMs`; resolves
 * when it has exited. `exited` is a promise of its exit.
 */
export function stopGroup(child, exited, graceMs = 5000) {
	if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
	try {
		process.kill(-child.pid, "SIGTERM");
	} catch {
		return Promise.resolve();
	}
	const timer = setTimeout(() => {
		try {
			process.kill(-child.pid, "SIGKILL");
		} catch {}
	}, graceMs);
	timer.unref();
	return exited.then(() => clearTimeout(timer));
}

/** Writes `text` to `file`, readable by the owner only. */
export function writePrivateFile(file, text) {
	if (existsSync(file)) rmSync(file);
	writeFileSync(file, text, { mode: 0o600 });
}

/** `varnishstat -1 -j` counters of the instance in `workdir` as {name: value}. */
export function varnishStats(workdir, fields = []) {
	const varnishstat = findVarnishTool("varnishstat");
	if (!varnishstat) return {};
	const args = ["-n", workdir, "-j"];
	for (const f of fields) args.push("-f", f);
	const r = spawnSync(varnishstat, args, { encoding: "utf8" });
	if (r.status !== 0) return {};
	const json = JSON.parse(r.stdout);
	const counters = json.counters ?? json;
	const out = {};
	for (const [name, c] of Object.entries(counters)) if (c && typeof c === "object" && "value" in c) out[name] = c.value;
	return out;
}
