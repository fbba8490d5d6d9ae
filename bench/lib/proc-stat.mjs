// CPU time of a process from Linux's /proc/<pid>/stat (see proc(5)): fields
// 14 and 15, utime and stime, in clock ticks, for all the process's threads.
// Parsing only; reading the file is the caller's (bench/lib/cpu.mjs).

/** The fields after the command name, which may itself contain spaces and parentheses. */
function fieldsAfterComm(stat) {
	const close = stat.lastIndexOf(")");
	if (close < 0) throw new Error("not a /proc/<pid>/stat line");
	// fields[0] is field 3 (state)
	return stat
		.slice(close + 2)
		.trim()
		.split(/\s+/);
}

/** { ppid, utimeTicks, stimeTicks } of a /proc/<pid>/stat line. */
export function parseProcStat(stat) {
	const f = fieldsAfterComm(stat);
	return { ppid: Number(f[1]), utimeTicks: Number(f[11]), stimeTicks: Number(f[12]) };
}

/** User + system CPU time in microseconds. */
export function cpuMicros(stat, ticksPerSecond = 100) {
	const { utimeTicks, stimeTicks } = parseProcStat(stat);
	return ((utimeTicks + stimeTicks) * 1_000_000) / ticksPerSecond;
}
