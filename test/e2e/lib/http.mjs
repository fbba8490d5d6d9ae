import http from "node:http";

/**
 * A keep-alive HTTP/1.1 client (node:http, lighter than fetch, so that a
 * load run measures the server rather than the client).
 */
export function httpClient({ maxSockets = 32 } = {}) {
	const agent = new http.Agent({ keepAlive: true, maxSockets });
	/** @returns {Promise<{status: number, headers: Record<string, string>, text: string, json: any, ms: number, startedAt: number, endedAt: number}>} */
	function request(url, { method = "GET", headers = {}, body } = {}) {
		return new Promise((resolve, reject) => {
			const startedAt = performance.now();
			const req = http.request(url, { method, headers, agent, maxHeaderSize: 64 * 1024 }, (res) => {
				const chunks = [];
				res.on("data", (c) => chunks.push(c));
				res.on("end", () => {
					const endedAt = performance.now();
					const text = Buffer.concat(chunks).toString("utf8");
					let json;
					try {
						json = text ? JSON.parse(text) : undefined;
					} catch {}
					const flat = {};
					for (const [name, value] of Object.entries(res.headers))
						flat[name] = Array.isArray(value) ? value.join(", ") : value;
					resolve({ status: res.statusCode, headers: flat, text, json, ms: endedAt - startedAt, startedAt, endedAt });
				});
				res.on("error", reject);
			});
			req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${url}: no answer within 10 s`)));
			req.on("error", reject);
			req.end(body);
		});
	}
	return { request, close: () => agent.destroy() };
}

export function percentile(sorted, p) {
	if (sorted.length === 0) return Number.NaN;
	return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** `requests` GETs of `url` from `concurrency` loops: throughput and latency. */
export async function loadRun(url, { requests, concurrency, headers = {} }) {
	const client = httpClient({ maxSockets: concurrency });
	const latencies = [];
	const statuses = {};
	let next = 0;
	const started = performance.now();
	await Promise.all(
		Array.from({ length: concurrency }, async () => {
			while (next < requests) {
				next++;
				const r = await client.request(url, { headers });
				latencies.push(r.ms);
				statuses[r.status] = (statuses[r.status] ?? 0) + 1;
			}
		}),
	);
	const seconds = (performance.now() - started) / 1000;
	client.close();
	latencies.sort((a, b) => a - b);
	return {
		requests,
		concurrency,
		rps: Math.round(requests / seconds),
		p50Ms: round2(percentile(latencies, 50)),
		p99Ms: round2(percentile(latencies, 99)),
		statuses,
	};
}

export function round2(x) {
	return Math.round(x * 100) / 100;
}
