import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createLatencyHistogram } from "../bench/lib/histogram.mjs";
import { laggingKv } from "../bench/lib/lagging-kv";
import { intendedAt, requestCount, runOpenLoop } from "../bench/lib/open-loop.mjs";
import { cpuMicros, parseProcStat } from "../bench/lib/proc-stat.mjs";
import { renderSvg, renderTable } from "../bench/lib/report.mjs";
import { clockWaitMs } from "../bench/lib/server-timing.mjs";
import { productsIn, StaleDetector } from "../bench/lib/stale.mjs";
import { countCacheApi, countingKv, storageOps } from "../bench/lib/storage-ops";
import { createWorkload } from "../bench/lib/workload.mjs";
import { createRandom, createZipf } from "../bench/lib/zipf.mjs";

describe("the Zipf sampler", () => {
	it("draws rank k with probability proportional to 1/k^s", () => {
		const random = createRandom("zipf-test");
		const zipf = createZipf(1000, 1.1, random.next);
		const counts = new Map<number, number>();
		const draws = 200_000;
		for (let i = 0; i < draws; i++) {
			const k = zipf.next();
			counts.set(k, (counts.get(k) ?? 0) + 1);
		}
		for (const k of [1, 2, 10]) {
			const expected = zipf.probability(k) * draws;
			expect(Math.abs((counts.get(k) ?? 0) - expected) / expected).toBeLessThan(0.05);
		}
		// P(1) / P(2) = 2^1.1
		expect(zipf.probability(1) / zipf.probability(2)).toBeCloseTo(2 ** 1.1, 6);
		const all = [...counts.keys()];
		expect(Math.min(...all)).toBeGreaterThanOrEqual(1);
		expect(Math.max(...all)).toBeLessThanOrEqual(1000);
	});

	it("rejects nonsense parameters", () => {
		expect(() => createZipf(0, 1.1, Math.random)).toThrow();
		expect(() => createZipf(10, 0, Math.random)).toThrow();
	});
});

describe("the latency histogram", () => {
	it("reports percentiles within its precision", () => {
		const h = createLatencyHistogram();
		for (let ms = 1; ms <= 100; ms++) h.recordMs(ms);
		expect(h.count).toBe(100);
		expect(h.percentileMs(50)).toBeCloseTo(50, 0);
		expect(h.percentileMs(99)).toBeCloseTo(99, 0);
		expect(h.percentileMs(100)).toBeCloseTo(100, 0);
	});
});

describe("stale-read detection", () => {
	const product = (id: number, updatedAt: string) => ({ id, sku: `S-${id}`, updatedAt });
	const v = (day: number) => `2026-01-${String(day).padStart(2, "0")}T00:00:00.000Z`;

	it("counts a read that started after a write was acknowledged and still shows the old version", () => {
		const d = new StaleDetector();
		d.acknowledge(7, v(2), 100);
		expect(d.check([product(7, v(1))], 150)).toEqual({ lagMs: 50, beyondBound: true });
		expect(d.staleReads).toBe(1);
	});

	it("does not count a read that started before the write was acknowledged, or a fresh one", () => {
		const d = new StaleDetector();
		d.acknowledge(7, v(2), 100);
		expect(d.check([product(7, v(1))], 99)).toBeUndefined();
		expect(d.check([product(7, v(1))], 100)).toBeUndefined(); // acknowledged at the same instant: not before
		expect(d.check([product(7, v(2))], 150)).toBeUndefined();
		expect(d.check([product(7, v(3))], 150)).toBeUndefined();
		expect(d.check([product(8, "2020-01-01T00:00:00.000Z")], 150)).toBeUndefined();
		expect(d.staleReads).toBe(0);
		expect(d.checkedReads).toBe(5);
	});

	it("judges a read against an earlier write even when a later write was acknowledged while it was in flight", () => {
		// The order the old detector missed: it kept only the newest write (v3, acknowledged at 200),
		// so a read that started at 150 looked unaffected, although v2 was acknowledged at 100.
		const d = new StaleDetector();
		d.acknowledge(1, v(2), 100);
		d.acknowledge(1, v(3), 200);
		expect(d.check([product(1, v(1))], 150)).toEqual({ lagMs: 50, beyondBound: true });
		// v2 is what a read started at 150 must show at least; v3 only from 200 on.
		expect(d.check([product(1, v(2))], 150)).toBeUndefined();
		expect(d.check([product(1, v(2))], 250)).toEqual({ lagMs: 50, beyondBound: true });
		expect(d.staleReads).toBe(2);
	});

	it("records writes acknowledged during the warm-up and judges later reads against them", () => {
		const d = new StaleDetector();
		d.acknowledge(3, v(5), 10); // warm-up
		const measured = d.counts();
		d.acknowledge(4, v(5), 5_000);
		expect(d.check([product(3, v(4))], 6_000)?.beyondBound).toBe(true);
		expect(d.counts(measured)).toMatchObject({ staleReads: 1, staleBeyondBound: 1, checkedReads: 1, writes: 1 });
	});

	it("keeps the newest version acknowledged so far, whatever order writes are acknowledged in", () => {
		const d = new StaleDetector();
		// A newer version acknowledged before an older one (concurrent writes to one product).
		d.acknowledge(1, v(3), 10);
		d.acknowledge(1, v(2), 20);
		expect(d.check([product(1, v(2))], 30)).toEqual({ lagMs: 20, beyondBound: true });
		// Acknowledgements recorded out of time order are put in order.
		const e = new StaleDetector();
		e.acknowledge(1, v(3), 300);
		e.acknowledge(1, v(2), 100);
		expect(e.check([product(1, v(1))], 200)).toEqual({ lagMs: 100, beyondBound: true });
		expect(e.check([product(1, v(2))], 200)).toBeUndefined();
	});

	it("checks every item of a listing and counts the read once", () => {
		const d = new StaleDetector();
		d.acknowledge(1, v(3), 10);
		d.acknowledge(2, v(3), 10);
		expect(d.check([product(2, v(1)), product(1, v(2)), product(5, v(1))], 30)).toEqual({
			lagMs: 20,
			beyondBound: true,
		});
		expect(d.staleReads).toBe(1);
	});

	it("allows another isolate the contract's bound, and the writer's isolate none", () => {
		const d = new StaleDetector({ boundMs: 1_000 });
		d.acknowledge(9, v(2), 1_000, "a");
		// At the writer's isolate the next read must be fresh.
		expect(d.check([product(9, v(1))], 1_010, "a")).toEqual({ lagMs: 10, beyondBound: true });
		// Elsewhere it is stale, but inside the bound for a second…
		expect(d.check([product(9, v(1))], 1_900, "b")).toEqual({ lagMs: 900, beyondBound: false });
		// …and beyond it after that.
		expect(d.check([product(9, v(1))], 2_001, "b")).toEqual({ lagMs: 1_001, beyondBound: true });
		expect(d.counts()).toMatchObject({ staleReads: 3, staleBeyondBound: 2, byIsolate: { a: 1, b: 2 } });
		expect(d.maxLagMs).toEqual({ a: 10, b: 1_001 });
	});

	it("judges a write elsewhere by the bound even when the reader's own isolate wrote an older version", () => {
		const d = new StaleDetector({ boundMs: 1_000 });
		d.acknowledge(9, v(2), 100, "b");
		d.acknowledge(9, v(3), 500, "a");
		// At b, 600: b's own v2 is required at once, a's v3 only from 1,500.
		expect(d.check([product(9, v(2))], 600, "b")).toEqual({ lagMs: 100, beyondBound: false });
		expect(d.check([product(9, v(1))], 600, "b")).toEqual({ lagMs: 500, beyondBound: true });
	});

	it("finds the products in a product or a listing body", () => {
		expect(productsIn({ data: product(1, "x") })).toHaveLength(1);
		expect(productsIn({ data: [product(1, "x"), product(2, "y")] })).toHaveLength(2);
		expect(productsIn({ data: [{ id: 1, rating: 5 }] })).toHaveLength(0); // reviews
		expect(productsIn({ error: {} })).toHaveLength(0);
	});
});

describe("the workload sequence", () => {
	const options = {
		seed: "t",
		products: 1000,
		zipfS: 1.1,
		writeRatio: 0.05,
		mix: { product: 0.7, listing: 0.15, reviews: 0.15 },
		isolates: ["a", "b"],
	};

	it("is the same for every variant, whatever order its operations are taken in", () => {
		const first = createWorkload(options);
		const second = createWorkload(options);
		const late = second.at(999);
		expect(second.at(3)).toEqual(first.at(3));
		expect(first.at(999)).toEqual(late);
		expect(first.slice(0, 1000)).toEqual(second.slice(0, 1000));
		expect(createWorkload({ ...options, seed: "other" }).slice(0, 50)).not.toEqual(first.slice(0, 50));
	});

	it("writes at the first isolate and reads at both", () => {
		const ops = createWorkload(options).slice(0, 4000);
		const writes = ops.filter((op) => op.kind === "write");
		const reads = ops.filter((op) => op.kind !== "write");
		expect(writes.length).toBeGreaterThan(100);
		expect(writes.every((op) => op.isolate === "a")).toBe(true);
		const atB = reads.filter((op) => op.isolate === "b").length;
		expect(atB / reads.length).toBeGreaterThan(0.45);
		expect(atB / reads.length).toBeLessThan(0.55);
		for (const op of reads) expect(op.path).toMatch(/^\/v1\/products/);
	});
});

describe("open loop", () => {
	/** A fake clock: `sleep` moves time forward and fires what was due. */
	function fakeTime() {
		let t = 0;
		const timers: { at: number; fire: () => void }[] = [];
		const now = () => t;
		const until = (at: number) => new Promise<void>((fire) => timers.push({ at, fire }));
		const settle = async () => {
			for (let i = 0; i < 20; i++) await Promise.resolve();
		};
		const sleep = async (ms: number) => {
			const target = t + Math.max(ms, 0.001);
			await settle();
			for (;;) {
				timers.sort((x, y) => x.at - y.at);
				const next = timers[0];
				if (!next || next.at > target) break;
				timers.shift();
				t = next.at;
				next.fire();
				await settle();
			}
			t = target;
		};
		return { now, until, sleep };
	}

	it("sends on schedule and charges a stall to every request queued behind it (no coordinated omission)", async () => {
		const time = fakeTime();
		// One server, one request at a time: 2 ms each, but the 11th takes 200 ms.
		let freeAt = 0;
		const latencies = new Map<number, number>();
		const result = await runOpenLoop({
			rateRps: 100,
			seconds: 1,
			now: time.now,
			sleep: time.sleep,
			record: () => {},
			send: async (i) => {
				const start = Math.max(time.now(), freeAt);
				freeAt = start + (i === 10 ? 200 : 2);
				await time.until(freeAt);
				latencies.set(i, time.now() - intendedAt(i, 100));
				return true;
			},
		});
		expect(result).toMatchObject({ sent: 100, completed: 100, errors: 0, timedOut: 0 });
		expect(latencies.get(9)).toBe(2);
		expect(latencies.get(10)).toBe(200);
		// Sent 10 ms later, but it waited for the stall: 190 ms of queue plus its own 2 ms.
		expect(latencies.get(11)).toBe(192);
		expect(latencies.get(12)).toBe(184);
		expect(latencies.get(40)).toBe(2);
	});

	it("gives up on requests still unanswered after the grace period and counts them", async () => {
		const time = fakeTime();
		const recorded: number[] = [];
		const indexes: number[] = [];
		const result = await runOpenLoop({
			rateRps: 10,
			seconds: 1,
			graceMs: 500,
			now: time.now,
			sleep: time.sleep,
			record: (ms, i) => {
				recorded.push(ms);
				indexes.push(i);
			},
			send: async (i, signal) => {
				if (i === 3) {
					await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
					return false;
				}
				return true;
			},
		});
		expect(result).toMatchObject({ sent: 10, completed: 9, timedOut: 1 });
		expect(recorded).toHaveLength(10);
		// Each latency comes with its request's index; the one given up on is recorded last.
		expect([...indexes].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
		expect(indexes.at(-1)).toBe(3);
		// Intended at 300 ms; the last intended send is at 900 ms, plus 500 ms of grace.
		expect(recorded.at(-1)).toBeGreaterThanOrEqual(1_100);
		expect(requestCount(10, 1)).toBe(10);
	});
});

describe("CPU time from /proc/<pid>/stat", () => {
	it("reads utime and stime after a command name with spaces and parentheses", () => {
		const stat = "4242 (workerd (x) y) S 77 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 100 0 0";
		expect(parseProcStat(stat)).toEqual({ ppid: 77, utimeTicks: 250, stimeTicks: 50 });
		expect(cpuMicros(stat, 100)).toBe(3_000_000);
		expect(() => parseProcStat("nonsense")).toThrow();
	});
});

describe("the report", () => {
	it("renders every variant in the table and the chart", () => {
		const v = (rps: number) => ({
			throughputRps: rps,
			p50Ms: 1,
			p95Ms: 2,
			p99Ms: 3,
			p999Ms: 4,
			originLoadsPer1k: 0,
			staleReads: 0,
			staleBeyondBound: 0,
			errors: 0,
			cpuUsPerRequest: 120,
			hitPathRps: rps * 2,
			hitPathCpuUsPerRequest: 60,
			hitRatio: { memory: 0.5, colo: 0, kv: 0 },
			vsConstant: { throughput: 1 },
			vsD1Direct: { throughput: 2 },
		});
		const results = {
			config: {
				durationS: 5,
				connections: 4,
				zipfS: 1.1,
				writeRatio: 0.01,
				originDelayMs: 50,
				warmupRequests: 1000,
				isolates: ["a", "b"],
				hitPathRateRps: 2000,
			},
			variants: {
				constant: v(100),
				"app-floor": { ...v(90), hitPathWithContractHeaders: { cpuUsPerRequest: 63, cpuUsPerRequestAtMax: 50 } },
				"hono-cache": v(40),
				tiercache: v(50),
			},
			cold: { tiercache: { ...v(20), seconds: 3 } },
			openLoop: {
				rateRps: 500,
				seconds: 2,
				// The first rate's, as bench/run.mjs writes them.
				variants: {
					tiercache: {
						p50Ms: 2,
						p99Ms: 80,
						p999Ms: 120,
						readP99Ms: 61.5,
						writeP50Ms: 104.25,
						writeP99Ms: 110,
						timedOut: 0,
						achievedRps: 499,
					},
				},
				rates: [
					{
						rateRps: 500,
						shareOfConstant: 0.05,
						variants: {
							tiercache: { p50Ms: 2, p99Ms: 80, p999Ms: 120, readP99Ms: 61.5, writeP50Ms: 104.25, writeP99Ms: 110 },
						},
					},
					{
						rateRps: 1000,
						shareOfConstant: 0.1,
						variants: { tiercache: { p50Ms: 3, p99Ms: 90, p999Ms: 2000, timedOut: 7 } },
					},
				],
			},
			originLoadsByCause: { cold: 10, expired: 0, invalidated: 5, evicted: 0, refresh: 1 },
			stampede: { concurrent: 64, originLoads: 1 },
			twoLocations: {
				kvLagS: 60,
				convergenceMs: 900,
				converged: true,
				paths: {
					write: { convergenceMs: 400, converged: true, bStatusAfter: "tiercache-memory; fwd=miss" },
					rawSql: { convergenceMs: 900, converged: true },
				},
			},
		};
		results.variants.tiercache = {
			...v(50),
			staleReads: 12,
			staleBeyondBound: 0,
			hitPathCpuUsPerRequest: 66,
			clockWaits: { share: 0.0123, count: 12, p50Ms: 4, p99Ms: 9.5, maxMs: 10 },
		} as ReturnType<typeof v>;
		const table = renderTable(results);
		expect(table).toMatch(/^constant\s+100\s/m);
		expect(table).toMatch(/^app-floor\s+90\s/m);
		expect(table).toMatch(/^tiercache\s+50\s/m);
		expect(table).toMatch(/^tiercache\s+100\s.*\s66\s+1\.1$/m); // hit path: 66 µs = 1.1 × app-floor's 60
		expect(table).toContain(
			"app-floor answering with the contract's headers: 63 CPU µs/req (1.05× app-floor); tiercache 1.05× that",
		);
		expect(table).toContain("open loop at 1000 req/s (10 % of the constant's steady throughput)");
		expect(table).toContain("tiercache origin loads by cause (steady state): cold 10, expired 0, invalidated 5");
		expect(table).toContain("64 concurrent cold requests for one key -> 1 origin load(s)");
		expect(table).toContain("the second served the change after write 400 ms, rawSql 900 ms (worst 900 ms");
		expect(table).toContain("tiercache 12 (1.23% of answers), p99 9.5 ms");
		const svg = renderSvg(results);
		expect(svg.startsWith("<svg")).toBe(true);
		expect(svg).toContain(">tiercache<");
		for (const title of ["Stale reads", "Origin loads per 1,000", "CPU per request, hit path", "Open-loop p99 at 500"])
			expect(svg).toContain(title);
		expect(svg).toContain("12 (0 beyond)");
		// The open loop's bars name the reads' own p99 (writes may wait for their location) and the give-ups.
		expect(svg).toContain(">80 (reads 61.5)<");
		expect(svg).toContain(">90, 7 timed out<");
		expect(table).toMatch(/^tiercache\s+2\s+80\s+120\s+61\.5\s+104\.25\s/m);
		// Every label is placed inside the chart (whether it fits is checked by looking at it rendered).
		const width = Number(/width="(\d+)"/.exec(svg)?.[1]);
		for (const [, x] of svg.matchAll(/<text x="([\d.]+)"/g)) expect(Number(x)).toBeLessThanOrEqual(width);
		expect(table).not.toContain("FAILED");

		// A variant or a test that failed is named with its reason, in the table and the chart.
		const failed = {
			...results,
			variants: { constant: v(100), tiercache: results.variants.tiercache },
			failedVariants: { "kv-only": "no answer from http://127.0.0.1:1/__bench/stats within 30000 ms" },
			failedSections: { "two locations": "The operation was aborted due to timeout" },
			stampede: { concurrent: 64 },
		};
		const failedTable = renderTable(failed);
		expect(failedTable).toContain(
			"FAILED: kv-only failed and is left out: no answer from http://127.0.0.1:1/__bench/stats within 30000 ms",
		);
		expect(failedTable).toContain("FAILED: the two locations test failed: The operation was aborted due to timeout");
		expect(failedTable).not.toMatch(/^kv-only/m);
		expect(failedTable).not.toContain("undefined origin load");
		const failedSvg = renderSvg(failed);
		expect(failedSvg).toContain("FAILED: kv-only failed and is left out");
		expect(failedSvg).not.toContain("undefined");
	});
});

describe("Server-Timing", () => {
	it("finds the wait for the invalidation clock, and nothing else", () => {
		expect(clockWaitMs("clock;dur=12.5, memory;dur=0.1, origin;dur=50")).toBe(12.5);
		expect(clockWaitMs("memory;dur=0.1, colo;dur=2")).toBeUndefined();
		expect(clockWaitMs("xclock;dur=3")).toBeUndefined();
		expect(clockWaitMs(null)).toBeUndefined();
	});
});

describe("the lagging KV (two-location benchmark)", () => {
	const at = { t: 1_000_000 };
	const now = () => at.t;
	const writer = () => laggingKv(env.CACHE_KV, { lagMs: 0, now });
	const lagging = () => laggingKv(env.CACHE_KV, { lagMs: 60_000, now });

	it("shows a write at once where it was made, and after the lag elsewhere", async () => {
		at.t = 1_000_000;
		await writer().put("lag:a", '{"v":1}', { expirationTtl: 600, metadata: { n: 1 } });
		expect(await writer().get("lag:a", "json")).toEqual({ v: 1 });
		expect(await lagging().get("lag:a", "json")).toBeNull();
		at.t += 60_000;
		expect(await lagging().get("lag:a", "json")).toEqual({ v: 1 });
		expect(await lagging().getWithMetadata("lag:a", "text")).toMatchObject({ value: '{"v":1}', metadata: { n: 1 } });
	});

	it("answers a lagging read with the version as it was, until the new one is old enough", async () => {
		at.t = 2_000_000;
		await writer().put("lag:b", "old", { expirationTtl: 600 });
		at.t += 90_000;
		await writer().put("lag:b", "new", { expirationTtl: 600 });
		at.t += 1_000;
		await writer().put("lag:b", "newer", { expirationTtl: 600 });
		expect(await writer().get("lag:b")).toBe("newer");
		expect(await lagging().get("lag:b")).toBe("old");
		at.t += 59_500;
		expect(await lagging().get("lag:b")).toBe("new");
		at.t += 1_000;
		expect(await lagging().get("lag:b")).toBe("newer");
	});

	it("treats deletes and expiry as they were at the lagging time", async () => {
		at.t = 3_000_000;
		await writer().put("lag:c", "x", { expirationTtl: 60 });
		at.t += 10_000;
		await writer().delete("lag:c");
		expect(await writer().get("lag:c")).toBeNull();
		at.t += 55_000;
		expect(await lagging().get("lag:c")).toBe("x");
		at.t += 10_000;
		expect(await lagging().get("lag:c")).toBeNull();
		await writer().put("lag:d", "y", { expirationTtl: 60 });
		at.t += 130_000;
		expect(await lagging().get("lag:d")).toBeNull(); // expired 60 s after it was written
	});

	it("stamps back-dated writes in the past, so lagging readers see them at once", async () => {
		at.t = 4_000_000;
		await laggingKv(env.CACHE_KV, { lagMs: 0, now, backdateMs: () => 65_000 }).put("lag:e", "warm");
		expect(await lagging().get("lag:e")).toBe("warm");
	});
});

describe("the storage operation counts", () => {
	it("count every KV get and put and every Cache API match and put, and change nothing else", async () => {
		const start = { ...storageOps };
		const kv = countingKv(env.CACHE_KV);
		expect(countingKv(env.CACHE_KV)).toBe(kv); // one wrapper per namespace
		await kv.put("ops:1", "one", { metadata: { n: 1 } });
		expect(await kv.get("ops:1")).toBe("one");
		expect((await kv.getWithMetadata("ops:1")).metadata).toEqual({ n: 1 });
		expect(await kv.get("ops:missing")).toBeNull();
		await kv.delete("ops:1");
		expect((await kv.list({ prefix: "ops:" })).keys).toEqual([]); // not counted: neither a read nor a write of an entry
		const undo = countCacheApi();
		try {
			const cache = await caches.open("ops");
			await cache.put("https://ops.invalid/a", new Response("a", { headers: { "Cache-Control": "max-age=60" } }));
			expect(await (await cache.match("https://ops.invalid/a"))?.text()).toBe("a");
			expect(await cache.match("https://ops.invalid/b")).toBeUndefined();
		} finally {
			undo();
		}
		await (await caches.open("ops")).match("https://ops.invalid/a"); // after the undo: not counted
		expect({
			kvReads: storageOps.kvReads - start.kvReads,
			kvWrites: storageOps.kvWrites - start.kvWrites,
			cacheReads: storageOps.cacheReads - start.cacheReads,
			cacheWrites: storageOps.cacheWrites - start.cacheWrites,
		}).toEqual({ kvReads: 3, kvWrites: 2, cacheReads: 2, cacheWrites: 1 });
	});
});
