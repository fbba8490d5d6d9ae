import { env } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { testApp } from "./helpers/app";
import { ADMIN, seedSmallCatalog } from "./helpers/fixtures";
import { signedWebhook } from "./helpers/webhook";

// Randomized histories over several isolates, checked against the consistency
// contract: every read sees every version acknowledged before it started by
// an isolate of its own location, and every version acknowledged at least
// BOUND_MS before it started by anyone else (another location, raw SQL).
// Reads go to the Worker's handler (the engine's front door, then the app)
// or to the app itself, at random.
// Each isolate's clock is off by up to SKEW_MS either way: the first bound
// holds whatever the skew; the second is measured by the reader's clock, so
// it holds up to the skew between the reader and whoever shared a view.

const BOUND_MS = 1000;
const SKEW_MS = 100;
const OPERATIONS = 10_000;
const OPS_PER_RUN = 200;
const PRODUCTS = [1, 2, 3] as const;
/** Engines 0–3 share one location's Cache API; 4 and 5 are a second location. */
const ENGINES = 6;
const locationOf = (engine: number) => (engine < 4 ? "one" : "two");

type Op =
	| { kind: "read"; engine: number; product: number; listing: boolean; front: boolean; times: number; delay: number }
	| { kind: "write"; engine: number; product: number; delay: number }
	| { kind: "sql"; product: number; delay: number }
	| { kind: "purge"; engine: number; tags: string[]; delay: number };
type Batch = { ops: Op[]; advance: number };

const engine = fc.integer({ min: 0, max: ENGINES - 1 });
const product = fc.constantFrom(...PRODUCTS);
const delay = fc.integer({ min: 0, max: 3 });
const op: fc.Arbitrary<Op> = fc.oneof(
	{
		weight: 6,
		arbitrary: fc.record({
			kind: fc.constant("read" as const),
			engine,
			product,
			listing: fc.boolean(),
			// To the Worker's handler (the front door, then the app) or to the app itself,
			// up to three times in a row (a URL read again at once is what the front door answers).
			front: fc.boolean(),
			times: fc.integer({ min: 1, max: 3 }),
			delay,
		}),
	},
	{ weight: 2, arbitrary: fc.record({ kind: fc.constant("write" as const), engine, product, delay }) },
	{ weight: 1, arbitrary: fc.record({ kind: fc.constant("sql" as const), product, delay }) },
	{
		weight: 1,
		arbitrary: fc.record({
			kind: fc.constant("purge" as const),
			engine,
			tags: fc.subarray(["product:1", "product:2", "product:3", "products", "category:1", "noise:1"], {
				minLength: 1,
			}),
			delay,
		}),
	},
);
const batch: fc.Arbitrary<Batch> = fc.record({
	ops: fc.array(op, { minLength: 1, maxLength: 4 }),
	// Mostly short moves of the clock, sometimes past the bound.
	advance: fc.oneof(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 400, max: 1500 })),
});

interface Write {
	product: number;
	version: number;
	engine: number | "sql";
	ackAt: number;
	ackOrder: number;
}
interface Read {
	engine: number;
	product: number;
	version: number;
	startAt: number;
	startOrder: number;
	status: string;
	path: string;
}

const versions = new Map<number, number>(PRODUCTS.map((p) => [p, 0]));
const nameOf = (p: number, version: number) => `h${p}.${version}`;
const versionOf = (name: string) => Number(/^h\d+\.(\d+)$/.exec(name)?.[1] ?? Number.NaN);

let run = 0;
/** Reads the front door answered, over every history. */
let frontHits = 0;
let ipCounter = 0;

async function runHistory(batches: Batch[], skews: readonly number[]): Promise<void> {
	run++;
	const sim = { now: Date.now() };
	const skewSpread = Math.max(...skews) - Math.min(...skews);
	const engines = Array.from({ length: ENGINES }, (_, i) =>
		testApp({
			shareKeys: true,
			cacheName: `history-${run}-${locationOf(i)}`,
			now: () => sim.now + (skews[i] ?? 0),
			// The lease only saves D1 reads; a short settle keeps 10,000 operations quick.
			// A write's wait for its location passes in the history's time.
			clock: {
				leaseSettleMs: 1,
				sleep: async (ms: number) => {
					sim.now += ms;
				},
			},
		}),
	);
	const writes: Write[] = [];
	const reads: Read[] = [];
	let order = 0;

	async function perform(o: Op): Promise<void> {
		await scheduler.wait(o.delay);
		if (o.kind === "read") {
			const app = engines[o.engine];
			if (!app) throw new Error("no engine");
			const path = o.listing
				? `/v1/products?category=${o.product === 3 ? "garden" : "kitchen"}`
				: `/v1/products/${o.product}`;
			for (let i = 0; i < o.times; i++) {
				const startAt = sim.now;
				const startOrder = ++order;
				const res = await (o.front ? app.serve(path) : app.request(path));
				const status = res.headers.get("Cache-Status") ?? "";
				if (res.status !== 200) throw new Error(`${path} answered ${res.status}: ${await res.text()}`);
				const body = (await res.json()) as { data: { id: number; name: string } | { id: number; name: string }[] };
				const items = Array.isArray(body.data) ? body.data : [body.data];
				for (const item of items) {
					reads.push({
						engine: o.engine,
						product: item.id,
						version: versionOf(item.name),
						startAt,
						startOrder,
						status,
						path,
					});
				}
			}
			return;
		}
		if (o.kind === "purge") {
			const app = engines[o.engine];
			const init = await signedWebhook(JSON.stringify({ tags: o.tags }));
			const res = await app?.request("/v1/webhooks/purge", {
				...init,
				headers: { ...init.headers, "CF-Connecting-IP": `10.0.${++ipCounter % 250}.${run % 250}` },
			});
			if (res?.status !== 202) throw new Error(`purge answered ${res?.status}`);
			return;
		}
		const version = (versions.get(o.product) ?? 0) + 1;
		versions.set(o.product, version);
		if (o.kind === "sql") {
			await env.DB.prepare("UPDATE products SET name = ?1 WHERE id = ?2")
				.bind(nameOf(o.product, version), o.product)
				.run();
		} else {
			const res = await engines[o.engine]?.request(`/v1/products/${o.product}`, {
				method: "PATCH",
				headers: { ...ADMIN, "Content-Type": "application/json" },
				body: JSON.stringify({ name: nameOf(o.product, version) }),
			});
			if (res?.status !== 200) throw new Error(`PATCH answered ${res?.status}`);
		}
		writes.push({
			product: o.product,
			version,
			engine: o.kind === "sql" ? "sql" : o.engine,
			ackAt: sim.now,
			ackOrder: ++order,
		});
	}

	for (const b of batches) {
		// At most one write per product in flight, so the committed order is the version order.
		const writing = new Set<number>();
		const ops = b.ops.map((o): Op => {
			if (o.kind !== "write" && o.kind !== "sql") return o;
			if (writing.has(o.product))
				return { kind: "read", engine: 0, product: o.product, listing: false, front: false, times: 1, delay: o.delay };
			writing.add(o.product);
			return o;
		});
		await Promise.all(ops.map(perform));
		sim.now += b.advance;
	}

	frontHits += engines.reduce((n, e) => n + e.cache.stats.served.front, 0);
	for (const r of reads) {
		for (const w of writes) {
			if (w.product !== r.product || w.ackOrder > r.startOrder || r.version >= w.version) continue;
			const sameLocation = w.engine !== "sql" && locationOf(w.engine) === locationOf(r.engine);
			if (sameLocation || r.startAt - w.ackAt >= BOUND_MS + skewSpread) {
				throw new Error(
					`stale read: engine ${r.engine} (${locationOf(r.engine)}) read ${r.path} at +${r.startAt - w.ackAt} ms ` +
						`and saw version ${r.version} of product ${r.product}; version ${w.version} was acknowledged by ` +
						`${w.engine === "sql" ? "raw SQL" : `engine ${w.engine}`} before (Cache-Status: ${r.status})`,
				);
			}
		}
	}
}

beforeAll(async () => {
	await seedSmallCatalog();
	for (const p of PRODUCTS) {
		await env.DB.prepare("UPDATE products SET name = ?1 WHERE id = ?2").bind(nameOf(p, 0), p).run();
	}
});

describe("randomized histories over six isolates at two locations", () => {
	it(`every read is fresh within the bound (${OPERATIONS} operations)`, { timeout: 600_000 }, async () => {
		const history = fc.record({
			batches: fc.array(batch, { minLength: OPS_PER_RUN / 2.5, maxLength: OPS_PER_RUN / 2.5 }),
			skews: fc.array(fc.integer({ min: -SKEW_MS, max: SKEW_MS }), { minLength: ENGINES, maxLength: ENGINES }),
		});
		let operations = 0;
		let histories = 0;
		// fast-check prints the seed and the shrunk history of a failure.
		while (operations < OPERATIONS) {
			await fc.assert(
				fc.asyncProperty(history, async ({ batches, skews }) => {
					histories++;
					operations += batches.reduce((n, b) => n + b.ops.length, 0);
					await runHistory(batches, skews);
				}),
				{ numRuns: 10, endOnFailure: true },
			);
		}
		console.log(
			`history check: ${operations} operations in ${histories} histories (${frontHits} reads answered by the front door), no stale read`,
		);
		expect(operations).toBeGreaterThanOrEqual(OPERATIONS);
		expect(frontHits).toBeGreaterThan(0);
	});
});
