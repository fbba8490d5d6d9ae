// The benchmark's table (stdout) and chart (self-contained SVG).

const ORDER = ["constant", "app-floor", "d1-direct", "hono-cache", "kv-only", "kv-in-app", "tiercache"];
const pad = (value, width) => String(value ?? "-").padStart(width);
const round = (n, digits) => Math.round(n * 10 ** digits) / 10 ** digits;
const pct = (x) => `${Math.round((x ?? 0) * 100)}%`;
const ratio = (a, b) => (a != null && b ? round(a / b, 2) : "-");

/** Variants and tests that failed and are left out, with their reasons. */
function failures(results) {
	return [
		...Object.entries(results.failedVariants ?? {}).map(([name, why]) => `${name} failed and is left out: ${why}`),
		...Object.entries(results.failedSections ?? {}).map(([name, why]) => `the ${name} test failed: ${why}`),
	];
}

export function renderTable(results) {
	const { config } = results;
	const names = ORDER.filter((n) => results.variants[n]);
	const isolates = config.isolates?.length ?? 1;
	const lines = [
		`tiercache benchmark — steady state: requests ${config.warmupRequests ?? "?"}–${(config.warmupRequests ?? 0) + (config.steadyRequests ?? 0)} of one seeded sequence (after a cold phase of ${config.warmupRequests ?? "?"}), ` +
			`${config.connections} connections, ${isolates} isolate(s) per variant, Zipf s=${config.zipfS}, ` +
			`${config.writeRatio * 100}% writes, ORIGIN_DELAY_MS=${config.originDelayMs} (stands in for the distance to the D1 primary)` +
			(typeof config.headCheckMs === "number" ? `, tiercache's headCheckMs=${config.headCheckMs}` : ""),
		"",
		"steady state (closed loop; stale: reads older than a write acknowledged before they started / of them beyond the contract's bound)",
		`${"variant".padEnd(11)}${pad("req/s", 8)}${pad("p50 ms", 9)}${pad("p99 ms", 9)}${pad("p99.9", 9)}${pad("origin/1k", 11)}` +
			`${pad("mem", 6)}${pad("colo", 6)}${pad("kv", 6)}${pad("CPU µs/req", 12)}${pad("stale", 7)}${pad("beyond", 8)}${pad("errors", 8)}${pad("×constant", 11)}`,
	];
	for (const name of names) {
		const v = results.variants[name];
		lines.push(
			`${name.padEnd(11)}${pad(`${v.complete === false ? "*" : ""}${v.throughputRps}`, 8)}${pad(v.p50Ms, 9)}${pad(v.p99Ms, 9)}${pad(v.p999Ms, 9)}${pad(v.originLoadsPer1k, 11)}` +
				`${pad(pct(v.hitRatio?.memory), 6)}${pad(pct(v.hitRatio?.colo), 6)}${pad(pct(v.hitRatio?.kv), 6)}${pad(v.cpuUsPerRequest, 12)}` +
				`${pad(v.staleReads, 7)}${pad(v.staleBeyondBound ?? "-", 8)}${pad(v.errors, 8)}${pad(v.vsConstant ? v.vsConstant.throughput : "-", 11)}`,
		);
	}
	for (const failure of failures(results)) lines.push(`FAILED: ${failure}`);
	const partial = names.filter((n) => results.variants[n].complete === false);
	if (partial.length) {
		lines.push(
			`* played only part of the window within ${config.durationS} s: ${partial
				.map((n) => `${n} ${results.variants[n].requests} reads`)
				.join(", ")}`,
		);
	}
	const counted = names.filter((n) => results.variants[n].storageOpsPer1k);
	if (counted.length) {
		lines.push(
			"",
			"storage operations per 1,000 reads, steady state (every KV and Cache API call, write-backs and the clock's included)",
			`${"variant".padEnd(11)}${pad("origin", 8)}${pad("KV get", 8)}${pad("KV put", 8)}${pad("cache match", 13)}${pad("cache put", 11)}${pad("clock D1", 10)}`,
		);
		for (const name of counted) {
			const v = results.variants[name];
			const o = v.storageOpsPer1k;
			lines.push(
				`${name.padEnd(11)}${pad(v.originLoadsPer1k, 8)}${pad(o.kvReads, 8)}${pad(o.kvWrites, 8)}${pad(o.cacheReads, 13)}${pad(o.cacheWrites, 11)}${pad(v.clockD1ReadsPer1k ?? "-", 10)}`,
			);
		}
	}
	const cold = names.filter((n) => results.cold?.[n]);
	if (cold.length) {
		lines.push(
			"",
			"cold phase (the warm-up, reported separately; variants without a cache play only its writes and last reads)",
			`${"variant".padEnd(11)}${pad("req/s", 8)}${pad("p50 ms", 9)}${pad("p99 ms", 9)}${pad("origin/1k", 11)}${pad("CPU µs/req", 12)}${pad("stale", 7)}${pad("errors", 8)}${pad("seconds", 9)}`,
		);
		for (const name of cold) {
			const c = results.cold[name];
			lines.push(
				`${name.padEnd(11)}${pad(c.throughputRps, 8)}${pad(c.p50Ms, 9)}${pad(c.p99Ms, 9)}${pad(c.originLoadsPer1k, 11)}${pad(c.cpuUsPerRequest, 12)}` +
					`${pad(c.staleReads, 7)}${pad(c.errors, 8)}${pad(c.seconds, 9)}`,
			);
		}
	}
	const floor = results.variants["app-floor"];
	const hitPath = names.filter((n) => results.variants[n].hitPathRps != null);
	if (hitPath.length) {
		lines.push(
			"",
			`hit path (50 hot products on every isolate, no writes): closed loop for req/s and latency; CPU per request at ${results.config.hitPathRateRps ?? "?"} req/s`,
			`${"variant".padEnd(11)}${pad("req/s", 8)}${pad("p50 ms", 9)}${pad("p99 ms", 9)}${pad("CPU µs/req", 12)}${pad("×app-floor CPU", 16)}`,
		);
		for (const name of hitPath) {
			const v = results.variants[name];
			lines.push(
				`${name.padEnd(11)}${pad(v.hitPathRps, 8)}${pad(v.hitPathP50Ms, 9)}${pad(v.hitPathP99Ms, 9)}${pad(v.hitPathCpuUsPerRequest, 12)}` +
					`${pad(ratio(v.hitPathCpuUsPerRequest, floor?.hitPathCpuUsPerRequest), 16)}`,
			);
		}
		const withHeaders = floor?.hitPathWithContractHeaders;
		const tiercache = results.variants.tiercache;
		if (withHeaders?.cpuUsPerRequest != null) {
			lines.push(
				`app-floor answering with the contract's headers: ${withHeaders.cpuUsPerRequest} CPU µs/req ` +
					`(${ratio(withHeaders.cpuUsPerRequest, floor.hitPathCpuUsPerRequest)}× app-floor)` +
					(tiercache?.hitPathCpuUsPerRequest != null
						? `; tiercache ${ratio(tiercache.hitPathCpuUsPerRequest, withHeaders.cpuUsPerRequest)}× that`
						: ""),
			);
		}
	}
	const steadyPaired = results.steadyPaired;
	if (steadyPaired) {
		lines.push(
			"",
			`steady state, side by side (${steadyPaired.rounds} rounds of ${steadyPaired.windowRequests} requests in turns, ` +
				`requests ${steadyPaired.sequence.from}–${steadyPaired.sequence.to}):`,
			`${"variant".padEnd(11)}${pad("req/s", 8)}${pad("CPU µs/req", 12)}${pad("origin/1k", 11)}${pad("stale", 7)}${pad("errors", 8)}  req/s by round`,
		);
		for (const [name, v] of Object.entries(steadyPaired.variants)) {
			lines.push(
				`${name.padEnd(11)}${pad(v.throughputRps, 8)}${pad(v.cpuUsPerRequest, 12)}${pad(v.originLoadsPer1k ?? "–", 11)}${pad(v.staleReads, 7)}${pad(v.errors, 8)}  ${v.roundsRps.join(", ")}`,
			);
		}
		if (steadyPaired.vsKvOnly != null || steadyPaired.vsHonoCache != null) {
			lines.push(
				`tiercache ${steadyPaired.vsKvOnly ?? "–"}× kv-only (rounds: ${(steadyPaired.roundRatiosVsKvOnly ?? []).join(", ")}), ` +
					`${steadyPaired.vsHonoCache ?? "–"}× hono-cache`,
			);
		}
	}
	const paired = results.hitPathPaired;
	if (paired) {
		const m = paired.medianCpuUsPerRequest;
		lines.push(
			"",
			`hit path, paired (side by side, ${paired.rounds} rounds of ${paired.seconds} s at ${paired.rateRps} req/s; medians): ` +
				`tiercache ${m.tiercache} (in the app alone ${m["tiercache-in-app"]}), app-floor ${m["app-floor"]}, ` +
				`app-floor with the contract's headers ${m["app-floor+headers"]} CPU µs/req`,
			`tiercache ${paired.vsAppFloor}× app-floor (rounds: ${paired.roundRatiosVsAppFloor.join(", ")}), ` +
				`${paired.vsAppFloorWithHeaders}× app-floor with the headers; in the app alone ${paired.inAppVsAppFloor}×; ` +
				`the headers alone ${paired.headersVsAppFloor}× app-floor`,
		);
	}
	for (const run of results.openLoop?.rates ?? []) {
		lines.push(
			"",
			`open loop at ${run.rateRps} req/s${run.shareOfConstant ? ` (${round(run.shareOfConstant * 100, 1)} % of the constant's steady throughput)` : ""}, ` +
				`${results.openLoop.seconds} s; latency from the intended send time`,
			`${"variant".padEnd(11)}${pad("p50 ms", 9)}${pad("p99 ms", 9)}${pad("p99.9 ms", 10)}${pad("reads p99", 11)}${pad("writes p50", 12)}${pad("done/s", 8)}${pad("timed out", 11)}${pad("CPU µs/req", 12)}${pad("stale", 7)}`,
		);
		for (const name of ORDER.filter((n) => run.variants[n])) {
			const o = run.variants[name];
			lines.push(
				`${name.padEnd(11)}${pad(o.p50Ms, 9)}${pad(o.p99Ms, 9)}${pad(o.p999Ms, 10)}${pad(o.readP99Ms ?? "-", 11)}${pad(o.writeP50Ms ?? "-", 12)}${pad(o.achievedRps, 8)}${pad(o.timedOut, 11)}${pad(o.cpuUsPerRequest, 12)}${pad(o.staleReads, 7)}`,
			);
		}
	}
	lines.push("");
	if (results.originLoadsByCause) {
		const causes = Object.entries(results.originLoadsByCause).map(([c, n]) => `${c} ${n}`);
		lines.push(`tiercache origin loads by cause (steady state): ${causes.join(", ")}`);
	}
	const staleLag = names
		.filter((n) => results.variants[n].staleReads > 0 && results.variants[n].staleMaxLagMs)
		.map(
			(n) =>
				`${n} ${Object.entries(results.variants[n].staleByIsolate ?? {})
					.map(([i, c]) => `${c} at ${i} (max ${results.variants[n].staleMaxLagMs[i] ?? "?"} ms after the write)`)
					.join(", ")}`,
		);
	if (staleLag.length) lines.push(`stale reads by isolate (writes are made at a): ${staleLag.join("; ")}`);
	const hits = names
		.filter((n) => results.variants[n]?.hitP50Ms != null)
		.map((n) => `${n} p50 ${results.variants[n].hitP50Ms} ms / p99 ${results.variants[n].hitP99Ms} ms`);
	if (hits.length) lines.push(`answered by a cache tier (steady state): ${hits.join(", ")}`);
	if (results.stampede?.originLoads !== undefined) {
		lines.push(
			`stampede: ${results.stampede.concurrent} concurrent cold requests for one key -> ${results.stampede.originLoads} origin load(s)` +
				(results.stampede.originLoadsWithoutCache !== undefined
					? ` (${results.stampede.originLoadsWithoutCache} without a cache)`
					: ""),
		);
	}
	const clock = names
		.filter((n) => results.variants[n]?.clockWaits)
		.map((n) => {
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

const COLORS = {
	constant: "#9ca3af",
	"app-floor": "#6b7280",
	"d1-direct": "#ef4444",
	"hono-cache": "#f59e0b",
	"kv-only": "#3b82f6",
	"kv-in-app": "#8b5cf6",
	tiercache: "#10b981",
	"tiercache-in-app": "#6ee7b7",
	"app-floor+headers": "#4b5563",
};

/** A compact number: 1234 → "1,234", 12.345 → "12.3", 0.5 → "0.5". */
function fmt(n) {
	if (n == null || Number.isNaN(n)) return "–";
	if (Math.abs(n) >= 100) return Math.round(n).toLocaleString("en-US");
	if (Math.abs(n) >= 10) return String(round(n, 1));
	return String(round(n, 2));
}

/**
 * The open-loop panel of one rate (undefined without it): every request's p99,
 * with the reads' own (writes may wait for their location) and give-ups in its labels.
 */
function openLoopPanel(run, names) {
	if (!run) return undefined;
	return {
		title: `Open-loop p99 at ${fmt(run.rateRps)} req/s (ms, log scale)`,
		subtitle: "fixed arrival rate, from the intended send time; in brackets, the reads' own p99",
		names: names.filter((n) => run.variants[n]),
		value: (n) => run.variants[n].p99Ms,
		label: (n) => {
			const o = run.variants[n];
			const reads = o.readP99Ms === undefined ? "" : ` (reads ${fmt(o.readP99Ms)})`;
			return `${fmt(o.p99Ms)}${reads}${o.timedOut ? `, ${fmt(o.timedOut)} timed out` : ""}`;
		},
		log: true,
	};
}

/**
 * One panel: a horizontal bar per variant. `value(name)` gives the bar, `label(name)`
 * its text (default: the value); `log` draws on a log scale (latencies).
 */
function panel({ x, y, w, title, subtitle, names, value, label, log = false, tick }) {
	// Room for the longest name (about 6.8 px per character at 11.5 px).
	const labelW = Math.max(78, ...names.map((n) => n.length * 6.8 + 8));
	const rowH = 20;
	const texts = names.map((n) => (label ? label(n) : fmt(value(n))));
	// Room for the longest label right of the longest bar (about 6.6 px per character at 11 px).
	const textRoom = Math.min(w * 0.45, Math.max(60, ...texts.map((t) => t.length * 6.6 + 10)));
	const barMax = w - labelW - textRoom;
	const parts = [];
	parts.push(`<text x="${x}" y="${y + 14}" font-size="13" font-weight="bold">${escapeXml(title)}</text>`);
	if (subtitle) parts.push(`<text x="${x}" y="${y + 29}" font-size="10.5" fill="#555">${escapeXml(subtitle)}</text>`);
	const top = y + 38;
	const values = names.map((n) => value(n)).filter((v) => v != null && Number.isFinite(v));
	const ticks = tick ? names.map((n) => tick(n)).filter((v) => v != null && Number.isFinite(v)) : [];
	const max = Math.max(...values, ...ticks, log ? 10 : 1e-9);
	const min = log ? Math.max(0.1, Math.min(...values.filter((v) => v > 0), 1)) : 0;
	const scale = (v) => {
		if (v == null || !Number.isFinite(v) || v <= 0) return 0;
		if (!log) return (v / max) * barMax;
		const lo = Math.log10(min) - 0.3;
		return Math.max(2, ((Math.log10(v) - lo) / (Math.log10(max) - lo)) * barMax);
	};
	parts.push(
		`<line x1="${x + labelW}" x2="${x + labelW}" y1="${top - 2}" y2="${top + names.length * rowH}" stroke="#ccc"/>`,
	);
	names.forEach((name, i) => {
		const ry = top + i * rowH;
		const v = value(name);
		parts.push(`<text x="${x}" y="${ry + 14}" font-size="11.5">${escapeXml(name)}</text>`);
		const bw = scale(v);
		if (v != null) {
			parts.push(
				`<rect x="${x + labelW}" y="${ry + 3}" width="${bw.toFixed(1)}" height="14" fill="${COLORS[name] ?? "#666"}"/>`,
			);
		}
		let textX = x + labelW + bw + 4;
		const t = tick?.(name);
		if (t != null && Number.isFinite(t)) {
			const tx = x + labelW + scale(t);
			parts.push(
				`<line x1="${tx.toFixed(1)}" x2="${tx.toFixed(1)}" y1="${ry + 1}" y2="${ry + 19}" stroke="#111" stroke-width="2"/>`,
			);
			textX = Math.max(textX, tx + 4);
		}
		const text = texts[i];
		// A label that would still run past the panel ends at its edge, on a white ground.
		const textW = text.length * 6.6;
		if (textX + textW > x + w) {
			const end = x + w;
			parts.push(
				`<rect x="${(end - textW - 2).toFixed(1)}" y="${ry + 3}" width="${(textW + 2).toFixed(1)}" height="14" fill="#fff" fill-opacity="0.85"/>`,
			);
			parts.push(
				`<text x="${end.toFixed(1)}" y="${ry + 14}" font-size="11" text-anchor="end">${escapeXml(text)}</text>`,
			);
		} else {
			parts.push(`<text x="${textX.toFixed(1)}" y="${ry + 14}" font-size="11">${escapeXml(text)}</text>`);
		}
	});
	return { svg: parts.join(""), height: 38 + names.length * rowH + 14 };
}

/** Panels: throughput, stale reads, origin loads, CPU per request, hit path CPU, open-loop p99, latency. */
export function renderSvg(results) {
	const names = ORDER.filter((n) => results.variants[n]);
	const v = (n) => results.variants[n];
	const cacheNames = names.filter((n) => !["constant", "app-floor"].includes(n));
	const ol = results.openLoop;
	const panels = [
		{
			title: "Steady-state throughput (req/s, higher is better)",
			subtitle: `closed loop, ${results.config.connections} connections, mixed workload`,
			names,
			value: (n) => v(n).throughputRps,
		},
		{
			title: "Stale reads (lower is better; 0 is the goal)",
			subtitle: "vs. writes acknowledged before the read began (beyond the 1 s bound)",
			names: cacheNames,
			value: (n) => v(n).staleReads,
			label: (n) =>
				`${fmt(v(n).staleReads)}${v(n).staleBeyondBound != null ? ` (${fmt(v(n).staleBeyondBound)} beyond)` : ""}`,
		},
		{
			title: "Origin loads per 1,000 reads (lower is better)",
			subtitle: "steady state",
			names: cacheNames,
			value: (n) => v(n).originLoadsPer1k,
		},
		{
			title: "Worker CPU per request, steady state (µs)",
			subtitle: "workerd user + system time over the phase ÷ requests answered",
			names,
			value: (n) => v(n).cpuUsPerRequest,
		},
		{
			title: "Worker CPU per request, hit path (µs)",
			subtitle: `50 hot keys at ${results.config.hitPathRateRps ?? "?"} req/s; app-floor = the same app, no engine`,
			names: names.filter((n) => v(n).hitPathCpuUsPerRequest != null),
			value: (n) => v(n).hitPathCpuUsPerRequest,
		},
		results.steadyPaired && {
			title: "Steady-state throughput side by side (req/s, higher is better)",
			subtitle: `${results.steadyPaired.rounds} rounds of ${fmt(results.steadyPaired.windowRequests)} requests in turns, the same windows for each`,
			names: Object.keys(results.steadyPaired.variants),
			value: (n) => results.steadyPaired.variants[n].throughputRps,
		},
		results.hitPathPaired && {
			title: "Worker CPU per request, hit path side by side (µs, medians)",
			subtitle: `${results.hitPathPaired.rounds} rounds in turns at ${fmt(results.hitPathPaired.rateRps)} req/s; tiercache behind its front door, and in the app alone`,
			names: Object.keys(results.hitPathPaired.medianCpuUsPerRequest),
			value: (n) => results.hitPathPaired.medianCpuUsPerRequest[n],
		},
		openLoopPanel(ol, names),
		{
			title: "Steady-state latency p50 (bar) and p99 (tick), ms",
			subtitle: "closed loop, from the send",
			names,
			value: (n) => v(n).p50Ms,
			tick: (n) => v(n).p99Ms,
			label: (n) => `${fmt(v(n).p50Ms)} / ${fmt(v(n).p99Ms)}`,
		},
		openLoopPanel(ol?.rates?.[1], names),
	].filter(Boolean);
	const margin = 16;
	const panelW = 440;
	const gap = 28;
	const width = margin * 2 + panelW * 2 + gap;
	const parts = [];
	parts.push(`<text x="${margin}" y="24" font-size="16" font-weight="bold">tiercache benchmark</text>`);
	const c = results.config;
	parts.push(
		`<text x="${margin}" y="42" font-size="11" fill="#444">${escapeXml(
			`steady state: ${c.steadyRequests ?? "?"} requests after ${c.warmupRequests ?? "?"} warm-up requests · ${c.connections} connections · ${c.isolates?.length ?? 1} isolates per variant · Zipf ${c.zipfS} · ${c.writeRatio * 100}% writes · ORIGIN_DELAY_MS=${c.originDelayMs}${typeof c.headCheckMs === "number" ? ` · headCheckMs=${c.headCheckMs}` : ""}`,
		)}</text>`,
	);
	let y = 58;
	for (let i = 0; i < panels.length; i += 2) {
		let rowHeight = 0;
		for (let j = 0; j < 2 && i + j < panels.length; j++) {
			const p = panel({ ...panels[i + j], x: margin + j * (panelW + gap), y, w: panelW });
			parts.push(p.svg);
			rowHeight = Math.max(rowHeight, p.height);
		}
		y += rowHeight + 10;
	}
	const notes = failures(results).map((failure) => `FAILED: ${failure}`);
	if (results.stampede?.originLoads !== undefined)
		notes.push(
			`stampede: ${results.stampede.concurrent} cold requests → ${results.stampede.originLoads} origin load(s)`,
		);
	if (results.twoLocations)
		notes.push(
			`second location (KV lag ${results.twoLocations.kvLagS} s) fresh at most ${results.twoLocations.convergenceMs} ms after a change`,
		);
	if (results.originLoadsByCause)
		notes.push(
			`tiercache loads by cause: ${Object.entries(results.originLoadsByCause)
				.map(([k, n]) => `${k} ${n}`)
				.join(", ")}`,
		);
	notes.push(
		`${results.machine?.cpus ?? "?"} CPUs · Node ${results.machine?.node ?? ""} · local Miniflare (workerd); the load generator shares the CPUs`,
	);
	for (const note of notes) {
		parts.push(`<text x="${margin}" y="${y + 8}" font-size="11" fill="#444">${escapeXml(note)}</text>`);
		y += 17;
	}
	const height = y + 12;
	return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, system-ui, sans-serif"><rect width="100%" height="100%" fill="#fff"/>${parts.join("")}</svg>\n`;
}
