// The benchmark's table (stdout) and chart (self-contained SVG).

const ORDER = ["constant", "d1-direct", "hono-cache", "kv-only", "tiercache"];
const pad = (value, width) => String(value).padStart(width);
const round = (n, digits) => Math.round(n * 10 ** digits) / 10 ** digits;

export function renderTable(results) {
	const { config } = results;
	const lines = [
		`tiercache benchmark — ${config.durationS} s per variant, ${config.connections} connections, Zipf s=${config.zipfS}, ` +
			`${config.writeRatio * 100}% writes, ORIGIN_DELAY_MS=${config.originDelayMs} (stands in for the distance to the D1 primary)`,
		"",
		`${"variant".padEnd(11)}${pad("req/s", 8)}${pad("p50 ms", 9)}${pad("p95 ms", 9)}${pad("p99 ms", 9)}${pad("origin/1k", 11)}` +
			`${pad("mem", 7)}${pad("colo", 7)}${pad("kv", 7)}${pad("stale", 7)}${pad("errors", 8)}${pad("×constant", 11)}${pad("×d1-direct", 12)}`,
	];
	for (const name of ORDER) {
		const v = results.variants[name];
		if (!v) continue;
		const pct = (x) => `${Math.round(x * 100)}%`;
		lines.push(
			`${name.padEnd(11)}${pad(v.throughputRps, 8)}${pad(v.p50Ms, 9)}${pad(v.p95Ms, 9)}${pad(v.p99Ms, 9)}${pad(v.originLoadsPer1k, 11)}` +
				`${pad(pct(v.hitRatio.memory), 7)}${pad(pct(v.hitRatio.colo), 7)}${pad(pct(v.hitRatio.kv), 7)}${pad(v.staleReads, 7)}${pad(v.errors, 8)}` +
				`${pad(v.vsConstant ? v.vsConstant.throughput : "-", 11)}${pad(v.vsD1Direct ? v.vsD1Direct.throughput : "-", 12)}`,
		);
	}
	lines.push("", "×constant and ×d1-direct: throughput relative to that variant in this run.");
	const hitPath = ORDER.filter((n) => results.variants[n]?.hitPathRps != null && n !== "d1-direct").map(
		(n) => `${n} ${results.variants[n].hitPathRps} req/s (p50 ${results.variants[n].hitPathP50Ms} ms)`,
	);
	if (hitPath.length) lines.push(`hit path (50 hot keys, no writes): ${hitPath.join(", ")}`);
	const hits = ORDER.filter((n) => results.variants[n]?.hitP50Ms != null).map(
		(n) => `${n} p50 ${results.variants[n].hitP50Ms} ms / p99 ${results.variants[n].hitP99Ms} ms`,
	);
	if (hits.length) lines.push(`answered by a cache tier: ${hits.join(", ")}`);
	if (results.stampede) {
		lines.push(
			`stampede: ${results.stampede.concurrent} concurrent cold requests for one key -> ${results.stampede.originLoads} origin load(s)` +
				(results.stampede.originLoadsWithoutCache !== undefined
					? ` (${results.stampede.originLoadsWithoutCache} without a cache)`
					: ""),
		);
	}
	const clock = ORDER.filter((n) => results.variants[n]?.clockWaits).map((n) => {
		const w = results.variants[n].clockWaits;
		return `${n} ${w.count} (${round(w.share * 100, 2)}% of answers), p99 ${w.p99Ms} ms`;
	});
	if (clock.length) lines.push(`waited for the invalidation clock (mixed workload): ${clock.join(", ")}`);
	if (results.twoLocations) {
		const t = results.twoLocations;
		const paths = Object.entries(t.paths ?? {}).map(
			([name, p]) =>
				`${name} ${p.converged === false ? `not within ${(t.timeoutMs ?? 0) / 1000} s` : `${p.convergenceMs} ms`}`,
		);
		lines.push(
			`two locations (KV reads at the second lag ${t.kvLagS} s): the second served the change after ${paths.join(", ")} ` +
				`(worst ${t.convergenceMs} ms; converged: ${t.converged})`,
		);
		for (const [name, p] of Object.entries(t.paths ?? {}))
			if (p.bStatusAfter) lines.push(`  ${name}: second location answered with ${p.bStatusAfter}`);
	}
	if (results.rewarm?.withRewarm) {
		const { withRewarm: on, withoutRewarm: off, hotKeys } = results.rewarm;
		lines.push(
			`re-warm: first read of ${hotKeys} hot keys after a write: ${on.firstReadHits} hits (${on.fresh} fresh) with re-warm, ` +
				`${off.firstReadHits} hits (${off.fresh} fresh) without`,
		);
	}
	const tiers = Object.entries(results.tierLatency ?? {}).filter(([, t]) => t.p50Ms !== undefined);
	if (tiers.length) {
		lines.push(
			`tiercache latency by serving tier: ${tiers.map(([tier, t]) => `${tier} p50 ${t.p50Ms} ms (n=${t.count})`).join(", ")}`,
		);
	}
	const kv = results.tierLatency?.kvFirstReadAtNewLocation;
	if (kv) lines.push(`first read at a new location: ${kv.ms} ms (${kv.status})`);
	return lines.join("\n");
}

const escapeXml = (s) =>
	String(s).replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]);

/** Two bar panels (throughput, p50/p99 latency) and the stale-read count per variant. */
export function renderSvg(results) {
	const names = ORDER.filter((n) => results.variants[n]);
	const rowH = 28;
	const top = 70;
	const panelW = 360;
	const labelW = 100;
	const height = top + names.length * rowH + 70;
	const width = labelW + panelW * 2 + 80;
	const maxRps = Math.max(1, ...names.map((n) => results.variants[n].throughputRps));
	const maxMs = Math.max(1, ...names.map((n) => results.variants[n].p99Ms));
	const colors = {
		constant: "#9ca3af",
		"d1-direct": "#ef4444",
		"hono-cache": "#f59e0b",
		"kv-only": "#3b82f6",
		tiercache: "#10b981",
	};
	const parts = [];
	parts.push(`<text x="10" y="22" font-size="15" font-weight="bold">tiercache benchmark</text>`);
	parts.push(
		`<text x="10" y="42" font-size="11" fill="#444">${escapeXml(
			`${results.config.durationS} s per variant · ${results.config.connections} connections · Zipf ${results.config.zipfS} · ${results.config.writeRatio * 100}% writes · ORIGIN_DELAY_MS=${results.config.originDelayMs}`,
		)}</text>`,
	);
	parts.push(`<text x="${labelW}" y="${top - 8}" font-size="12" font-weight="bold">throughput (req/s)</text>`);
	parts.push(
		`<text x="${labelW + panelW + 40}" y="${top - 8}" font-size="12" font-weight="bold">latency p50 (bar) and p99 (tick), ms</text>`,
	);
	names.forEach((name, i) => {
		const v = results.variants[name];
		const y = top + i * rowH;
		const color = colors[name] ?? "#666";
		parts.push(`<text x="10" y="${y + 17}" font-size="12">${escapeXml(name)}</text>`);
		const w = (v.throughputRps / maxRps) * (panelW - 60);
		parts.push(`<rect x="${labelW}" y="${y + 4}" width="${w.toFixed(1)}" height="18" fill="${color}"/>`);
		parts.push(`<text x="${labelW + w + 4}" y="${y + 17}" font-size="11">${v.throughputRps}</text>`);
		const x0 = labelW + panelW + 40;
		const scale = (ms) => (ms / maxMs) * (panelW - 60);
		parts.push(`<rect x="${x0}" y="${y + 4}" width="${scale(v.p50Ms).toFixed(1)}" height="18" fill="${color}"/>`);
		parts.push(
			`<line x1="${(x0 + scale(v.p99Ms)).toFixed(1)}" x2="${(x0 + scale(v.p99Ms)).toFixed(1)}" y1="${y + 2}" y2="${y + 24}" stroke="#111" stroke-width="2"/>`,
		);
		parts.push(
			`<text x="${(x0 + scale(v.p99Ms) + 4).toFixed(1)}" y="${y + 17}" font-size="11">${v.p50Ms} / ${v.p99Ms}${v.staleReads ? ` · ${v.staleReads} stale` : ""}</text>`,
		);
	});
	const foot = top + names.length * rowH + 24;
	const notes = [];
	if (results.stampede)
		notes.push(
			`stampede: ${results.stampede.concurrent} cold requests → ${results.stampede.originLoads} origin load(s)`,
		);
	if (results.twoLocations)
		notes.push(
			`second location (KV lag ${results.twoLocations.kvLagS} s) fresh at most ${results.twoLocations.convergenceMs} ms after a change`,
		);
	parts.push(`<text x="10" y="${foot}" font-size="11" fill="#444">${escapeXml(notes.join(" · "))}</text>`);
	parts.push(
		`<text x="10" y="${foot + 18}" font-size="11" fill="#444">${escapeXml(`${results.machine?.cpus ?? "?"} CPUs · ${results.machine?.node ?? ""} · local Miniflare`)}</text>`,
	);
	return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="system-ui, sans-serif"><rect width="100%" height="100%" fill="#fff"/>${parts.join("")}</svg>\n`;
}
