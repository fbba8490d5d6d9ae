import { env } from "cloudflare:workers";
import fc from "fast-check";
import { type ClockIncrement, type ClockSource, ClockView, clockSource, InvalidationClock } from "tiercache";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { cacheStatus, testApp } from "./helpers/app";
import { switchableD1 } from "./helpers/faults";
import { ADMIN, seedSmallCatalog } from "./helpers/fixtures";
import { signedWebhook } from "./helpers/webhook";

beforeAll(async () => {
	await seedSmallCatalog();
});

const name = async (res: Response) => ((await res.json()) as { data: { name: string } }).data.name;

const increment = (from: number, to: number, readAt: number, bumps: [string, number][] = [], floor = 0) =>
	({ from, to, readAt, bumps, floor }) satisfies ClockIncrement;

describe("a view of the clock", () => {
	it("only moves forward: an older increment arriving late neither lowers the counter nor the time", () => {
		const view = new ClockView();
		expect(view.apply(increment(0, 10, 1_000, [["product:1", 10]]))).toBe(true);
		expect(view.apply(increment(0, 8, 500, [["product:2", 8]]))).toBe(true);
		expect([view.counter, view.readAt]).toEqual([10, 1_000]);
		// What the late increment says is still a fact: product:2 was bumped at 8.
		expect(view.validity(7, ["product:2"])).toBe(false);
		expect(view.validity(9, ["product:1"])).toBe(false);
		expect(view.validity(10, ["product:1", "product:2"])).toBe(true);
	});

	it("refuses an increment that would leave a gap, unless its floor makes the gap irrelevant", () => {
		const view = new ClockView();
		view.apply(increment(0, 10, 1_000));
		const generation = view.generation;
		expect(view.apply(increment(12, 15, 2_000, [["product:1", 14]]))).toBe(false);
		expect([view.counter, view.readAt, view.generation]).toEqual([10, 1_000, generation]);
		expect(view.apply(increment(12, 15, 2_000, [["product:1", 14]], 12))).toBe(true);
		expect(view.validity(11, [])).toBe(false); // under the floor
		expect(view.validity(12, ["product:1"])).toBe(false);
		expect(view.validity(14, ["product:1"])).toBe(true);
	});

	it("keeps its generation (and so every validity answer given) when a refresh finds nothing new", () => {
		const view = new ClockView();
		view.apply(increment(0, 10, 1_000, [["product:1", 8]]));
		const first = view.generation;
		// The same bumps again, a later time, a higher counter: no answer can change.
		expect(view.apply(increment(0, 12, 1_500, [["product:1", 8]]))).toBe(true);
		expect([view.counter, view.readAt, view.generation]).toEqual([12, 1_500, first]);
		expect(view.apply(increment(12, 12, 2_000))).toBe(true);
		expect(view.generation).toBe(first);
		// A new bump, a raised seq, a raised floor, a wider coverage: each moves it.
		view.apply(increment(12, 14, 2_500, [["product:2", 13]]));
		expect(view.generation).toBe(first + 1);
		expect(view.validity(12, ["product:2"])).toBe(false);
		view.apply(increment(14, 15, 3_000, [["product:1", 15]]));
		expect(view.generation).toBe(first + 2);
		expect(view.validity(9, ["product:1"])).toBe(false);
		view.apply(increment(15, 15, 3_500, [], 5));
		expect(view.generation).toBe(first + 3);
		expect(view.validity(4, [])).toBe(false);
		const late = new ClockView();
		late.apply(increment(10, 12, 1_000));
		const before = late.generation;
		late.apply(increment(5, 12, 1_000));
		expect(late.generation).toBe(before + 1);
		expect(late.coverFrom).toBe(5);
	});

	it("answers 'unknown' for entries read before its coverage until their tags are looked up", () => {
		const view = new ClockView();
		view.apply(increment(20, 25, 1_000, [["product:1", 23]]));
		expect(view.validity(15, ["product:3"])).toBeUndefined();
		expect(view.unknownTags(15, ["product:3", "products"])).toEqual(["product:3", "products"]);
		view.addBaseline([["product:3", 12]], ["product:3", "products"], 25);
		expect(view.validity(15, ["product:3", "products"])).toBe(true);
		expect(view.validity(11, ["product:3"])).toBe(false);
		// A bump after the look-up is seen through the view.
		view.apply(increment(25, 30, 2_000, [["product:3", 28]]));
		expect(view.validity(15, ["product:3"])).toBe(false);
		// A look-up from a snapshot older than the coverage would leave a gap: ignored.
		view.addBaseline([["category:1", 1]], ["category:1"], 10);
		expect(view.validity(15, ["category:1"])).toBeUndefined();
	});

	it("shares at most N bumps, raising `from` so that the shared range stays complete", () => {
		const view = new ClockView();
		view.apply(
			increment(
				0,
				10,
				1_000,
				Array.from({ length: 10 }, (_, i) => [`t:${i + 1}`, i + 1] as [string, number]),
			),
		);
		const shared = view.increment(3);
		expect(shared).toMatchObject({ from: 7, to: 10, readAt: 1_000 });
		expect(shared.bumps.map(([tag]) => tag).sort()).toEqual(["t:10", "t:8", "t:9"]);
		const other = new ClockView();
		other.apply(shared);
		expect(other.validity(7, ["t:8"])).toBe(false);
		expect(other.validity(7, ["t:7"])).toBe(true);
		expect(other.validity(6, ["t:7"])).toBeUndefined(); // before the shared range: not assumed valid
	});

	it("shares the newest bumps, as sorting every bump it holds would, after any history of increments, notes, restarts and forgetting", () => {
		// The view keeps its bumps in seq order as they arrive; the reference sorts all of them each time.
		const reference = (bumps: Map<string, number>, coverFrom: number, counter: number, maxBumps: number) => {
			let from = coverFrom;
			let picked = [...bumps].filter(([, seq]) => seq > from && seq <= counter);
			if (picked.length > maxBumps) {
				picked.sort((a, b) => b[1] - a[1]);
				from = (picked[maxBumps] as [string, number])[1];
				picked = picked.filter(([, seq]) => seq > from);
			}
			return { from, bumps: picked };
		};
		const tag = fc.integer({ min: 0, max: 11 }).map((i) => `t:${i}`);
		const seq = fc.integer({ min: 0, max: 60 });
		const bumps = fc.array(fc.tuple(tag, seq), { maxLength: 8 });
		const op = fc.oneof(
			fc.record({
				kind: fc.constant("apply" as const),
				from: seq,
				span: fc.integer({ min: 0, max: 20 }),
				floor: fc.integer({ min: 0, max: 30 }),
				bumps,
			}),
			fc.record({ kind: fc.constant("note" as const), bumps, floor: fc.integer({ min: 0, max: 30 }) }),
			fc.record({ kind: fc.constant("restart" as const), counter: seq }),
			fc.record({ kind: fc.constant("share" as const), max: fc.integer({ min: 0, max: 14 }) }),
		);
		fc.assert(
			fc.property(fc.integer({ min: 4, max: 16 }), fc.array(op, { maxLength: 40 }), (maxTags, ops) => {
				const view = new ClockView(maxTags);
				const mirror = new Map<string, number>();
				const raise = (pairs: [string, number][]) => {
					for (const [t, s] of pairs) if (s > (mirror.get(t) ?? Number.NEGATIVE_INFINITY)) mirror.set(t, s);
					if (mirror.size > maxTags) {
						// The view forgets its older half the same way.
						const seqs = [...mirror.values()].sort((a, b) => a - b);
						const cut = seqs[Math.floor(seqs.length / 2)] as number;
						for (const [t, s] of mirror) if (s <= cut) mirror.delete(t);
					}
				};
				for (const o of ops) {
					if (o.kind === "apply") {
						if (view.apply(increment(o.from, o.from + o.span, 1_000, o.bumps, o.floor))) raise(o.bumps);
					} else if (o.kind === "note") {
						view.note(new Map(o.bumps), o.floor);
						// A note keeps one seq per tag (the last of the map's), as a Map of them does.
						raise([...new Map(o.bumps)]);
					} else if (o.kind === "restart") {
						view.restart(o.counter, 0, 1_000);
						mirror.clear();
					} else {
						const shared = view.increment(o.max);
						const expected = reference(mirror, view.coverFrom, view.counter, o.max);
						expect(shared.from).toBe(expected.from);
						expect(shared.to).toBe(view.counter);
						expect(shared.bumps.length).toBeLessThanOrEqual(o.max);
						const sorted = (b: [string, number][]) => [...b].sort(([a], [c]) => (a < c ? -1 : a > c ? 1 : 0));
						expect(sorted(shared.bumps)).toEqual(sorted(expected.bumps));
					}
					expect(view.size).toBe(mirror.size);
				}
			}),
			{ numRuns: 500 },
		);
	});

	it("forgets its older half when it holds too many tags, and stops vouching for what it forgot", () => {
		const view = new ClockView(4);
		view.apply(
			increment(
				0,
				6,
				1_000,
				Array.from({ length: 6 }, (_, i) => [`t:${i + 1}`, i + 1] as [string, number]),
			),
		);
		expect(view.size).toBeLessThanOrEqual(4);
		expect(view.coverFrom).toBeGreaterThan(0);
		expect(view.validity(1, ["t:2"])).not.toBe(true);
		expect(view.validity(6, ["t:6"])).toBe(true);
	});
});

describe("the clock of an isolate", () => {
	it("with a source that announces nothing, serves on the refresh age alone and never waits for a look", async () => {
		const real = clockSource(env.DB, () => caches.open("no-head"));
		const { readHead: _r, writeHead: _w, ...withoutHead } = real;
		let now = Date.now();
		const clock = new InvalidationClock({}, () => now);
		const pending: Promise<unknown>[] = [];
		const waitUntil = (p: Promise<unknown>) => void pending.push(p);
		expect((await clock.ensureFresh(withoutHead, waitUntil)).waited).toBe(true); // the first read
		await Promise.all(pending);
		now += 300; // past headCheckMs, inside the refresh age
		const started = performance.now();
		const state = await clock.ensureFresh(withoutHead, waitUntil);
		expect(state).toMatchObject({ available: true, waited: false });
		expect(performance.now() - started).toBeLessThan(1_000); // not the 3 s timeout
		expect(clock.counters).toMatchObject({ headChecks: 0, headWaits: 0 });
		expect(await clock.announce(withoutHead, clock.view.counter + 1, waitUntil)).toBeUndefined();
		expect(clock.counters.announcements).toBe(0);
	});

	it("reads D1 once for a location: the other isolates take the shared view", async () => {
		const a = testApp({ shareKeys: true, cacheName: "clock-share" });
		const b = testApp({ shareKeys: true, cacheName: "clock-share" });
		b.clock.now = a.clock.now;
		await a.request("/v1/categories");
		expect(a.cache.clock.counters).toMatchObject({ d1Reads: 1, sharedReads: 0 });
		await b.request("/v1/categories");
		expect(b.cache.clock.counters).toMatchObject({ d1Reads: 0, sharedReads: 1 });
		expect(b.cache.clock.view.counter).toBe(a.cache.clock.view.counter);
	});

	it("does not trust a shared view from a clock running ahead beyond the tolerance", async () => {
		const ahead = testApp({ shareKeys: true, cacheName: "clock-skew" });
		const behind = testApp({ shareKeys: true, cacheName: "clock-skew" });
		ahead.clock.now = behind.clock.now + 10_000;
		await ahead.request("/v1/categories");
		await behind.request("/v1/categories");
		expect(behind.cache.clock.counters).toMatchObject({ d1Reads: 1, sharedReads: 0 });
		expect(behind.cache.clock.view.readAt).toBeLessThanOrEqual(behind.clock.now);
		// Within the tolerance it is taken, as of no later than the reader's own time.
		const close = testApp({ shareKeys: true, cacheName: "clock-skew" });
		close.clock.now = behind.clock.now - 100;
		await close.request("/v1/categories");
		expect(close.cache.clock.counters).toMatchObject({ d1Reads: 0, sharedReads: 1 });
		expect(close.cache.clock.view.readAt).toBeLessThanOrEqual(close.clock.now);
	});

	it("relies on a shared view's time for announcements only as far as its own reads of D1 go (skew)", async () => {
		// A reader whose last look began before a write's announcement landed, and which then takes an older shared
		// view stamped by a clock running ahead: that stamp is no proof it would have seen the announcement.
		const cacheName = "skewed-shared-view";
		const real = clockSource(env.DB, () => caches.open(cacheName));
		const held: ((value: unknown) => void)[] = [];
		let holdLooks = false;
		const source = {
			...real,
			readHead: () => (holdLooks ? new Promise<unknown>((resolve) => held.push(resolve)) : real.readHead?.()),
		} as ClockSource;
		const t0 = Date.now();
		let now = t0;
		const reader = new InvalidationClock(
			{ jitterMs: 0 },
			() => now,
			() => 0,
		);
		const pending: Promise<unknown>[] = [];
		const waitUntil = (p: Promise<unknown>) => void pending.push(p.catch(() => {}));
		await reader.ensureFresh(source, waitUntil); // reads D1 at t0
		await Promise.all(pending);
		const before = reader.view.counter;
		const oldHead = await real.readHead?.();
		// Requests every 40 ms: the reader looks every 80 ms (last at t0+360) and never waits.
		for (let t = 40; t <= 400; t += 40) {
			now = t0 + t;
			expect(reader.stateNow(() => source, waitUntil)).toBeDefined();
			await Promise.all(pending);
		}

		// t0+440: a look begins and is slow to answer.
		holdLooks = true;
		now = t0 + 440;
		expect(reader.stateNow(() => source, waitUntil)).toBeDefined();
		expect(held).toHaveLength(1);
		// Meanwhile another isolate commits an invalidation, announces it (landing at about t0+470) and answers
		// 100 ms later.
		const writer = testApp({ shareKeys: true, cacheName });
		await writer.cache.invalidateTags(env, ["skew:shared-view"]);
		const after = writer.cache.clock.view.counter;
		expect(after).toBeGreaterThan(before);
		// Then an isolate whose clock runs about 70 ms ahead shares the view it read from D1 before that commit,
		// stamped t0+530 by its clock (the location's shared view is last-writer-wins).
		await real.writeShared({ from: before, to: before, floor: reader.view.floor, readAt: t0 + 530, bumps: [] });

		// t0+550: a request starts a background refresh, which takes that view.
		now = t0 + 550;
		reader.stateNow(() => source, waitUntil);
		await scheduler.wait(20);
		expect(reader.counters.sharedReads).toBe(1);
		expect(reader.view.counter).toBe(before);
		// The first look answers what the location held when it read: the announcement had not landed.
		held[0]?.(oldHead);
		await scheduler.wait(20);

		// t0+620, after the write's answer: nothing the reader saw itself is younger than t0+440; it must not serve.
		now = t0 + 620;
		expect(reader.stateNow(() => source, waitUntil)).toBeUndefined();
		holdLooks = false;
		for (const resolve of held.slice(1)) resolve(await real.readHead?.());
		const state = await reader.ensureFresh(source, waitUntil);
		expect(state.available).toBe(true);
		expect(reader.view.counter).toBeGreaterThanOrEqual(after);
	});

	it("refreshes in the background between half a second and a second, and waits only past a second", async () => {
		const a = testApp({ clock: { jitterMs: 0, headCheckMs: 0 } });
		await a.request("/v1/categories");
		const reads = () => a.cache.clock.counters.d1Reads + a.cache.clock.counters.sharedReads;
		a.advance(400);
		await a.request("/v1/categories");
		expect([reads(), a.cache.clock.counters.waits]).toEqual([1, 1]);
		a.advance(200); // 600 ms: refreshed after the answer, in waitUntil
		const res = await a.request("/v1/categories");
		expect(res.headers.get("Server-Timing")).not.toMatch(/clock/);
		expect([reads(), a.cache.clock.counters.waits]).toEqual([2, 1]);
		a.advance(1000);
		const waited = await a.request("/v1/categories");
		expect(waited.headers.get("Server-Timing")).toMatch(/^clock;dur=/);
		expect([reads(), a.cache.clock.counters.waits]).toEqual([3, 2]);
	});
});

describe("several isolates at one location (the field's failure, made a test)", () => {
	it("interleaved invalidations never let another isolate serve an overtaken entry", async () => {
		for (let round = 0; round < 4; round++) {
			const [a, b, c] = [0, 1, 2].map(() => testApp({ shareKeys: true, cacheName: "three-isolates" }));
			if (!a || !b || !c) throw new Error("three isolates");
			for (const i of [b, c]) i.clock.now = a.clock.now;
			const advance = (ms: number) => {
				for (const i of [a, b, c]) i.advance(ms);
			};
			const id = 1 + (round % 3);
			await c.request(`/v1/products/${id}`); // C has a view and an entry
			// B accepts two purges within one second, without waiting for their background work.
			const purges = [
				b.request("/v1/webhooks/purge", await signedWebhook('{"tags":["unrelated:a"]}'), {}, { wait: false }),
				b.request("/v1/webhooks/purge", await signedWebhook('{"tags":["unrelated:b"]}'), {}, { wait: false }),
			];
			await b.request(`/v1/products/${id}`);
			await b.request(`/v1/products/${id}`);
			const renamed = `Renamed in round ${round}`;
			const patch = await a.request(`/v1/products/${id}`, {
				method: "PATCH",
				headers: { ...ADMIN, "Content-Type": "application/json" },
				body: JSON.stringify({ name: renamed }),
			});
			expect(patch.status).toBe(200);
			expect((await Promise.all(purges)).map((r) => r.status)).toEqual([202, 202]);
			expect(await name(await a.request(`/v1/products/${id}`))).toBe(renamed); // read-your-writes
			advance(1000);
			const seen = await c.request(`/v1/products/${id}`);
			expect(await name(seen)).toBe(renamed);
			expect(await name(await b.request(`/v1/products/${id}`))).toBe(renamed);
		}
	});

	it("a write one isolate acknowledged is seen by the next read at every isolate of its location", async () => {
		for (const headCheckMs of [100, 0]) {
			const cacheName = `head-${headCheckMs}`;
			const a = testApp({ shareKeys: true, cacheName, clock: { headCheckMs } });
			const b = testApp({ shareKeys: true, cacheName, clock: { headCheckMs } });
			b.clock.now = a.clock.now;
			const id = headCheckMs ? 1 : 2;
			const before = await name(await b.request(`/v1/products/${id}`));
			expect(cacheStatus(await b.request(`/v1/products/${id}`))).toMatch(/memory; hit/);
			const renamed = `${before} (head ${headCheckMs})`;
			const started = a.clock.now;
			const patch = await a.request(`/v1/products/${id}`, {
				method: "PATCH",
				headers: { ...ADMIN, "Content-Type": "application/json" },
				body: JSON.stringify({ name: renamed }),
			});
			expect(patch.status).toBe(200);
			// The answer came headCheckMs after the announcement (the test's time: the write's wait moved a's clock).
			expect(a.clock.now - started).toBe(headCheckMs);
			b.clock.now = a.clock.now;
			const { d1Reads, sharedReads } = b.cache.clock.counters;
			const after = await b.request(`/v1/products/${id}`);
			if (headCheckMs) {
				expect(await name(after)).toBe(renamed);
				expect(cacheStatus(after)).toMatch(/memory; fwd=miss; detail=invalidated/);
				expect(after.headers.get("Server-Timing")).toMatch(/^clock;dur=/);
				expect(a.cache.clock.counters).toMatchObject({ announcements: 1, reannouncements: 0, headRefreshes: 0 });
				// b took the bumps a's announcement carried: no refresh, so no D1 read and no read of the shared view.
				expect(b.cache.clock.counters).toMatchObject({
					headWaits: 1,
					headTakes: 1,
					headRefreshes: 0,
					headLookFailures: 0,
				});
				expect(b.cache.clock.counters.d1Reads).toBe(d1Reads);
				expect(b.cache.clock.counters.sharedReads).toBe(sharedReads);
				// Within three quarters of a period b serves on what it knows, without looking again.
				const looks = b.cache.clock.counters.headChecks;
				b.advance(70);
				expect(cacheStatus(await b.request(`/v1/products/${id}`))).toMatch(/memory; hit/);
				expect(b.cache.clock.counters.headChecks).toBe(looks);
				// After them, a request looks in the background; it does not wait.
				b.advance(10);
				const looked = await b.request(`/v1/products/${id}`);
				expect(b.cache.clock.counters).toMatchObject({ headChecks: looks + 1, headWaits: 1 });
				expect(looked.headers.get("Server-Timing")).not.toMatch(/clock/);
			} else {
				// Without it, b learns at its refresh age (inside the design's bound), not before.
				expect(await name(after)).toBe(before);
				expect(b.cache.clock.counters.headChecks).toBe(0);
				expect(a.cache.clock.counters.announcements).toBe(0);
				b.advance(1_000);
				expect(await name(await b.request(`/v1/products/${id}`))).toBe(renamed);
			}
		}
	});

	it("an announcement carries the writer's last bumps: a look takes them when they join its view, else refreshes", async () => {
		const cacheName = "head-carries";
		const source = clockSource(env.DB, () => caches.open(cacheName));
		const a = testApp({ shareKeys: true, cacheName });
		const b = testApp({ shareKeys: true, cacheName });
		b.clock.now = a.clock.now;
		await b.request("/v1/products/3");
		const counters = () => ({ ...b.cache.clock.counters });
		// `replace` rewrites what a announced before b looks (undefined: left as a wrote it).
		const round = async (tag: string, replace?: (counter: number) => unknown) => {
			await a.cache.invalidateTags(env, [tag]);
			const counter = a.cache.clock.view.counter;
			if (replace) await source.writeHead?.(replace(counter) as never);
			b.clock.now = a.clock.now;
			b.advance(100);
			const before = counters();
			const res = await b.request("/v1/products/3");
			expect(res.status).toBe(200);
			expect(b.cache.clock.view.counter).toBe(counter);
			const after = counters();
			return {
				takes: after.headTakes - before.headTakes,
				refreshes: after.headRefreshes - before.headRefreshes,
				reads: after.d1Reads + after.sharedReads - before.d1Reads - before.sharedReads,
			};
		};
		expect(await round("carried:a")).toEqual({ takes: 1, refreshes: 0, reads: 0 });
		// Bumps that start after what b covers (more invalidations than the head carries since b looked): a refresh.
		const gap = (counter: number) => ({
			counter,
			at: a.clock.now,
			increment: { from: counter, to: counter, floor: 0, readAt: a.clock.now, bumps: [] },
		});
		expect(await round("carried:b", gap)).toEqual({ takes: 0, refreshes: 1, reads: 1 });
		// Malformed bumps, and bumps from a clock far ahead, are not taken either.
		const malformed = (counter: number) => ({ counter, at: a.clock.now, increment: { from: "x" } });
		expect(await round("carried:c", malformed)).toEqual({ takes: 0, refreshes: 1, reads: 1 });
		const ahead = (counter: number) => ({
			counter,
			at: a.clock.now,
			increment: { from: counter - 1, to: counter, floor: 0, readAt: a.clock.now + 60_000, bumps: [] },
		});
		expect(await round("carried:d", ahead)).toEqual({ takes: 0, refreshes: 1, reads: 1 });
		// An announcement without bumps (an older writer's) is refreshed from, as before.
		expect(await round("carried:e", (counter) => ({ counter, at: a.clock.now }))).toEqual({
			takes: 0,
			refreshes: 1,
			reads: 1,
		});
	});

	it("a Cache API that never answers about the announcement holds a write's answer at most the clock's timeoutMs", async () => {
		// The real Cache API, except that every call on the announced counter hangs.
		const hangingHead = (cache: Cache) =>
			new Proxy(cache, {
				get(target, prop) {
					const value = Reflect.get(target, prop, target);
					if (typeof value !== "function") return value;
					return (...args: unknown[]) => {
						const url = args[0] instanceof Request ? args[0].url : String(args[0]);
						return url.endsWith("/head") ? new Promise(() => {}) : value.apply(target, args);
					};
				},
			});
		const a = testApp({
			shareKeys: true,
			cacheName: "head-hangs",
			openCache: async (name) => hangingHead(await caches.open(name)),
			clock: { timeoutMs: 300 },
		});
		await a.request("/v1/products/2");
		const started = performance.now();
		const patch = await a.request(
			"/v1/products/2",
			{
				method: "PATCH",
				headers: { ...ADMIN, "Content-Type": "application/json" },
				body: JSON.stringify({ name: `Hanging head ${a.clock.now}` }),
			},
			{},
			{ wait: false },
		);
		expect(patch.status).toBe(200);
		expect(performance.now() - started).toBeGreaterThanOrEqual(250);
		// The write answered without its announcement confirmed, and says so.
		expect(a.cache.clock.counters.announceFailures).toBe(1);
		expect(await name(await a.request("/v1/products/2", {}, {}, { wait: false }))).toBe(`Hanging head ${a.clock.now}`);
		// Another isolate's looks give up after a period: it serves on the refresh age's bound, without waiting seconds.
		const b = testApp({
			shareKeys: true,
			cacheName: "head-hangs",
			openCache: async (n) => hangingHead(await caches.open(n)),
		});
		b.clock.now = a.clock.now;
		await b.request("/v1/products/2", {}, {}, { wait: false });
		b.advance(150);
		const waitedFrom = performance.now();
		const res = await b.request("/v1/products/2", {}, {}, { wait: false });
		expect(res.status).toBe(200);
		// Both of b's requests waited for a look: its first took a's shared view, which proves nothing about announcements.
		expect(b.cache.clock.counters.headWaits).toBe(2);
		// Each look that got no answer says so.
		expect(b.cache.clock.counters.headChecks).toBeGreaterThan(0);
		expect(b.cache.clock.counters.headLookFailures).toBe(b.cache.clock.counters.headChecks);
		expect(performance.now() - waitedFrom).toBeLessThan(2_000); // not the 3 s of the clock's timeout
	});

	it("an announcement another isolate's lower one landed over is made again", async () => {
		const cacheName = "head-overwritten";
		const source = clockSource(env.DB, () => caches.open(cacheName));
		let overwrite = true;
		const a = testApp({
			shareKeys: true,
			cacheName,
			clock: {
				// While a waits, a slower isolate's announcement of an older invalidation lands over a's.
				sleep: async () => {
					if (overwrite) await source.writeHead?.({ counter: 1, at: a.clock.now });
					overwrite = false;
				},
			},
		});
		const b = testApp({ shareKeys: true, cacheName });
		b.clock.now = a.clock.now;
		await b.request("/v1/products/3");
		const patch = await a.request("/v1/products/3", {
			method: "PATCH",
			headers: { ...ADMIN, "Content-Type": "application/json" },
			body: JSON.stringify({ name: `Overwritten ${a.clock.now}` }),
		});
		expect(patch.status).toBe(200);
		expect(a.cache.clock.counters).toMatchObject({ announcements: 1, reannouncements: 1, announceFailures: 0 });
		const head = (await source.readHead?.()) as { counter: number };
		expect(head.counter).toBe(a.cache.clock.view.counter);
		b.advance(100);
		expect(await name(await b.request("/v1/products/3"))).toBe(`Overwritten ${a.clock.now}`);
	});

	it("a write announces without reading the head first; its own slower, lower announcement is written over at once", async () => {
		const real = clockSource(env.DB, () => caches.open("head-own-order"));
		// The isolate's first write of the head is held until its second announcement has ended.
		let release: () => void = () => {};
		const held = new Promise<void>((resolve) => {
			release = resolve;
		});
		const written: number[] = [];
		let reads = 0;
		const source: ClockSource = {
			...real,
			readHead: () => {
				reads++;
				return real.readHead?.() ?? Promise.resolve(undefined);
			},
			writeHead: async (head) => {
				if (written.push(head.counter) === 1) await held;
				await real.writeHead?.(head);
			},
		};
		const writer = new InvalidationClock(
			{ jitterMs: 0 },
			() => Date.now(),
			() => 0,
			async () => {},
		);
		const pending: Promise<unknown>[] = [];
		const waitUntil = (p: Promise<unknown>) => void pending.push(p.catch(() => {}));
		await writer.ensureFresh(source, waitUntil);
		// Commits elsewhere (another cache's announcements), which this isolate's view then reads, as its own
		// write's batch would.
		const elsewhere = testApp({ shareKeys: true, cacheName: "head-own-order-elsewhere" });
		const commit = async (tag: string) => {
			await elsewhere.cache.invalidateTags(env, [tag]);
			const after = writer.deltaAfter();
			writer.applyDelta(await real.readDelta(after, 1_000), after, Date.now());
			return writer.view.counter;
		};
		const announced = async () => ((await real.readHead?.()) as { counter: number } | undefined)?.counter;
		const first = await commit("order:first");
		const firstAnnounced = writer.announce(source, first, waitUntil);
		await vi.waitUntil(() => written.length === 1);
		const second = await commit("order:second");
		expect(second).toBeGreaterThan(first);
		await writer.announce(source, second, waitUntil);
		expect(await announced()).toBe(second);
		// The first lands now, lower, and writes the second's counter again.
		release();
		await firstAnnounced;
		await Promise.all(pending);
		expect(await announced()).toBe(second);
		expect(written).toEqual([first, second, second]);
		// One read each: the read-back.
		expect(reads).toBe(2);
		expect(writer.counters).toMatchObject({ announcements: 2, reannouncements: 1, announceFailures: 0 });
	});

	it("a validity answer never outlives the data it was computed from", async () => {
		const writer = testApp({ shareKeys: true, cacheName: "validity-memo" });
		const reader = testApp({ shareKeys: true, cacheName: "validity-memo" });
		reader.clock.now = writer.clock.now;
		await reader.request("/v1/products/3");
		expect(cacheStatus(await reader.request("/v1/products/3"))).toMatch(/memory; hit/); // found valid, remembered
		await env.DB.prepare("UPDATE products SET name = 'Rake v2' WHERE id = 3").run();
		await writer.cache.invalidateTags(env, ["unrelated:memo"]); // the counter moves past the product's bump too
		for (const after of [1_100, 5_000, 60_000]) {
			reader.advance(after);
			const res = await reader.request("/v1/products/3");
			expect(await name(res)).toBe("Rake v2");
		}
	});
});

describe("the clock unreachable (D1 failing)", () => {
	it("serves entries inside their stale-if-error window, marked, and 503 after it", async () => {
		const { d1, state } = switchableD1(env.DB);
		// ttl 120 s and stale-if-error 300 s (the product policy and the defaults).
		const a = testApp({ database: () => d1 });
		const t0 = a.clock.now;
		await a.request("/v1/products/1");
		await a.request("/v1/products/2");
		await env.DB.prepare("UPDATE products SET name = 'Chef knife, renamed' WHERE id = 2").run();
		a.advance(1_000);
		expect(await name(await a.request("/v1/products/2"))).toBe("Chef knife, renamed"); // seen before the outage
		state.down = true;
		for (const at of [2_000, 60_000, 119_000, 121_000, 400_000]) {
			a.clock.now = t0 + at;
			const res = await a.request("/v1/products/1");
			expect(res.status).toBe(200);
			expect(cacheStatus(res)).toMatch(/^tiercache-memory; hit; ttl=-?\d+; detail=clock-unavailable$/);
		}
		a.clock.now = t0 + 421_000; // past 120 + 300 s after the entry was stored
		const gone = await a.request("/v1/products/1");
		expect(gone.status).toBe(503);
		expect(gone.headers.get("Cache-Control")).toBe("no-store");
		expect(a.cache.clock.counters.failures).toBeGreaterThan(0);
		state.down = false;
		a.advance(1_000);
		expect((await a.request("/v1/products/1")).status).toBe(200);
	});

	it("never serves an entry the last view knew to be invalidated", async () => {
		const { d1, state } = switchableD1(env.DB);
		const a = testApp({ database: () => d1 });
		await a.request("/v1/categories/garden");
		await env.DB.prepare("UPDATE categories SET name = 'Garden & yard' WHERE id = 2").run();
		a.advance(1_000);
		await a.request("/v1/products/1"); // the view learns of the bump
		state.down = true;
		a.advance(1_000);
		expect((await a.request("/v1/categories/garden")).status).toBe(503);
	});
});

describe("clock load at one location", () => {
	it("eight isolates serving for 10 s with a write every second read D1's clock one to two times a second", async () => {
		const isolates = Array.from({ length: 8 }, () => testApp({ shareKeys: true, cacheName: "clock-load" }));
		const start = isolates[0]?.clock.now ?? 0;
		for (const i of isolates) i.clock.now = start;
		const tick = (ms: number) => {
			for (const i of isolates) i.advance(ms);
		};
		const d1Reads = () => isolates.reduce((n, i) => n + i.cache.clock.counters.d1Reads, 0);
		const paths = ["/v1/products/1", "/v1/products/2", "/v1/categories", "/v1/products?category=kitchen"];
		// Warm: every isolate has a view and entries.
		await Promise.all(isolates.map((i) => i.request(paths[0] as string)));
		const before = d1Reads();
		for (let t = 0; t < 10_000; t += 50) {
			if (t % 1000 === 0) {
				await env.DB.prepare("UPDATE products SET stock = stock + 1 WHERE id = 3").run();
			}
			await Promise.all(isolates.map((i, n) => i.request(paths[(n + t / 50) % paths.length] as string)));
			tick(50);
		}
		const serving = d1Reads() - before;
		console.log(`clock load: ${serving} D1 clock reads in 10 s of serving by 8 isolates`);
		expect(serving).toBeGreaterThanOrEqual(10);
		expect(serving).toBeLessThanOrEqual(20);
		// The other refreshes took the location's shared view.
		const shared = isolates.reduce((n, i) => n + i.cache.clock.counters.sharedReads, 0);
		expect(shared).toBeGreaterThan(serving * 3);
		// Idle: no request, no read.
		const idle = d1Reads();
		for (let t = 0; t < 10_000; t += 50) tick(50);
		await scheduler.wait(50);
		expect(d1Reads()).toBe(idle);
	});
});

describe("the location's shared view", () => {
	it("is written by the isolate that read D1 and read back by clockSource", async () => {
		const source = clockSource(env.DB, () => caches.open("clock-source-test"));
		const clock = new InvalidationClock({}, () => 1_000_000);
		await clock.refresh(source, (p) => void p);
		await scheduler.wait(20); // the shared write runs in the background
		const shared = (await source.readShared()) as ClockIncrement;
		expect(shared).toMatchObject({ to: clock.view.counter, readAt: 1_000_000 });
	});

	it("a writer writes the shared view again only when its announcement's bumps would no longer reach back to it", async () => {
		const cacheName = "announce-shared";
		const source = clockSource(env.DB, () => caches.open(cacheName));
		const a = testApp({ shareKeys: true, cacheName });
		const b = testApp({ shareKeys: true, cacheName });
		b.clock.now = a.clock.now;
		await b.request("/v1/products/3");
		const sharedTo = async () => ((await source.readShared()) as ClockIncrement | undefined)?.to;
		const invalidate = async (tags: string[]) => {
			await a.cache.invalidateTags(env, tags);
			await scheduler.wait(10); // the shared view's write, if any, lands in the background
			return a.cache.clock.view.counter;
		};
		// The first announcement: a knows of no shared view, so it writes one.
		const first = await invalidate(["announce-shared:0"]);
		expect(await sharedTo()).toBe(first);
		// A few more: each announcement carries every bump since that view; the shared view is left as it is.
		let last = first;
		for (let i = 1; i <= 5; i++) last = await invalidate([`announce-shared:${i}`]);
		expect(last).toBeGreaterThan(first);
		expect(await sharedTo()).toBe(first);
		// A reader takes the last announcement's bumps: no D1 read, no read of the shared view.
		const before = { ...b.cache.clock.counters };
		b.clock.now = a.clock.now;
		b.advance(100);
		expect((await b.request("/v1/products/3")).status).toBe(200);
		expect(b.cache.clock.view.counter).toBe(last);
		expect(b.cache.clock.counters).toMatchObject({
			headTakes: before.headTakes + 1,
			d1Reads: before.d1Reads,
			sharedReads: before.sharedReads,
		});
		// More bumps since the shared view than half an announcement carries: the shared view is written again.
		const many = await invalidate(Array.from({ length: 40 }, (_, i) => `announce-shared:many:${i}`));
		expect(await sharedTo()).toBe(many);
		// The next one is carried again.
		await invalidate(["announce-shared:after"]);
		expect(await sharedTo()).toBe(many);
	});

	it("too old for a refresh: the location's last announcement is taken when its bumps join it, no D1 read", async () => {
		const cacheName = "refresh-takes-announcement";
		const a = testApp({ shareKeys: true, cacheName, clock: { jitterMs: 0 } });
		await a.cache.invalidateTags(env, ["refresh-announced:0"]); // writes the shared view
		a.advance(600); // the shared view is now older than the refresh age
		await a.cache.invalidateTags(env, ["refresh-announced:1"]); // announced, not shared again
		const counter = a.cache.clock.view.counter;
		// An isolate that starts now: the shared view alone is too old, the announcement's bumps bring it up.
		const c = testApp({ shareKeys: true, cacheName, clock: { jitterMs: 0 } });
		c.clock.now = a.clock.now;
		expect((await c.request("/v1/products/2")).status).toBe(200);
		expect(c.cache.clock.view.counter).toBe(counter);
		expect(c.cache.clock.counters).toMatchObject({ d1Reads: 0, sharedReads: 1 });
		// An announcement that does not join the view is not taken: D1 is read.
		const d = testApp({ shareKeys: true, cacheName, clock: { jitterMs: 0 } });
		d.clock.now = a.clock.now;
		const source = clockSource(env.DB, () => caches.open(cacheName));
		await source.writeHead?.({
			counter: counter + 1,
			at: a.clock.now,
			increment: { from: counter + 1, to: counter + 1, floor: 0, readAt: a.clock.now, bumps: [] },
		});
		expect((await d.request("/v1/products/2")).status).toBe(200);
		expect(d.cache.clock.counters.d1Reads).toBe(1);
	});
});
