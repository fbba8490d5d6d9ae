// CPU time of the Worker runtime (workerd) processes that Miniflare starts,
// read from /proc (Linux). A Miniflare instance runs all its workers (and its
// D1, KV and Cache API simulators) in one workerd process, a child of this one.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { cpuMicros, parseProcStat } from "./proc-stat.mjs";

let ticks;
function ticksPerSecond() {
	if (ticks === undefined) {
		try {
			ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
		} catch {
			ticks = 100;
		}
	}
	return ticks;
}

/** Whether /proc can be read here (Linux). */
export const procAvailable = (() => {
	try {
		readFileSync(`/proc/${process.pid}/stat`, "utf8");
		return true;
	} catch {
		return false;
	}
})();

/** Pids of this process's children whose command is `workerd`. */
export function workerdChildren() {
	if (!procAvailable) return [];
	const pids = [];
	for (const name of readdirSync("/proc")) {
		if (!/^\d+$/.test(name)) continue;
		try {
			const stat = readFileSync(`/proc/${name}/stat`, "utf8");
			if (parseProcStat(stat).ppid !== process.pid) continue;
			if (readFileSync(`/proc/${name}/comm`, "utf8").trim() !== "workerd") continue;
			pids.push(Number(name));
		} catch {
			// gone meanwhile
		}
	}
	return pids;
}

/** User + system CPU (µs) of these processes so far; null when it cannot be read. */
export function cpuOf(pids) {
	if (!procAvailable || pids.length === 0) return null;
	let total = 0;
	for (const pid of pids) {
		try {
			total += cpuMicros(readFileSync(`/proc/${pid}/stat`, "utf8"), ticksPerSecond());
		} catch {
			return null;
		}
	}
	return total;
}
