import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import {
	configuredPurgers,
	consumeDeadLetters,
	consumePurgeBatch,
	enqueuePurge,
	fastlyPurger,
	keyGroups,
	type PurgeEnv,
	retryDelaySeconds,
	varnishPurger,
	workersCachePurger,
	zonePurger,
} from "tiercache/purge";
import { afterEach, describe, expect, it, vi } from "vitest";

/** A stand-in for the zone purge API: records each request, answers from a script. */
function purgeApiStub(script: (n: number) => Response | Promise<Response>) {
	const requests: { method: string; url: string; headers: Record<string, string>; body: unknown }[] = [];
	const fetcher = (async (input: RequestInfo | URL, init?: RequestInit) => {
		const request = new Request(input, init);
		requests.push({
			method: request.method,
			url: request.url,
			headers: Object.fromEntries(request.headers),
			body: await request.json(),
		});
		return script(requests.length);
	}) as typeof fetch;
	return { requests, fetcher };
}

const ok = () => Response.json({ success: true, errors: [], messages: [], result: { id: "zone123" } });
const zone = (fetcher: typeof fetch) =>
	zonePurger({ zoneId: "zone123", apiToken: "token-abc", baseUrl: "https://purge.stub", fetch: fetcher });

function batch(bodies: unknown[], attempts = 1) {
	return createMessageBatch(
		"tiercache-purge",
		bodies.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts, body })),
	);
}

async function run(bodies: unknown[], fetcher: typeof fetch, attempts = 1) {
	const messages = batch(bodies, attempts);
	const ctx = createExecutionContext();
	const result = await consumePurgeBatch(messages, env.PURGE_QUEUE, [zone(fetcher)], {
		repurgeDelayS: 60,
		random: () => 1,
	});
	return { result, queue: await getQueueResult(messages, ctx) };
}

afterEach(() => {
	vi.restoreAllMocks();
});

describe("the purge queue consumer", () => {
	it("deduplicates tags across messages and sends them in calls of at most 100, exactly as the API expects", async () => {
		const stub = purgeApiStub(ok);
		const tags = Array.from({ length: 150 }, (_, i) => `product:${i}`);
		const { result, queue } = await run(
			[{ tags: tags.slice(0, 100) }, { tags: tags.slice(50, 150) }, { tags: ["product:1"] }],
			stub.fetcher,
		);
		expect(stub.requests).toEqual([
			{
				method: "POST",
				url: "https://purge.stub/client/v4/zones/zone123/purge_cache",
				headers: { authorization: "Bearer token-abc", "content-type": "application/json" },
				body: { tags: tags.slice(0, 100) },
			},
			{
				method: "POST",
				url: "https://purge.stub/client/v4/zones/zone123/purge_cache",
				headers: { authorization: "Bearer token-abc", "content-type": "application/json" },
				body: { tags: tags.slice(100, 150) },
			},
		]);
		expect(queue.explicitAcks.sort()).toEqual(["m0", "m1", "m2"]);
		expect(queue.retryMessages).toEqual([]);
		expect(result).toMatchObject({ outcome: "purged", repurge: { delaySeconds: 60 } });
	});

	it("sends purge_everything for a purge-everything message", async () => {
		const stub = purgeApiStub(ok);
		await run([{ tags: ["a"] }, { everything: true }], stub.fetcher);
		expect(stub.requests.map((r) => r.body)).toEqual([{ purge_everything: true }]);
	});

	it("retries every message after Retry-After on a 429", async () => {
		const stub = purgeApiStub(
			() => new Response('{"success":false}', { status: 429, headers: { "Retry-After": "30" } }),
		);
		const { result, queue } = await run([{ tags: ["a"] }, { tags: ["b"] }], stub.fetcher);
		expect(result.outcome).toBe("retried");
		expect(queue.explicitAcks).toEqual([]);
		expect(queue.retryMessages.map((m: { msgId: string }) => m.msgId)).toEqual(["m0", "m1"]);
		expect(result.retries).toEqual([
			{ id: "m0", delaySeconds: 30 },
			{ id: "m1", delaySeconds: 30 },
		]);
	});

	it("backs off exponentially through a burst of 5xx, then purges and schedules the re-purge", async () => {
		const statuses = [503, 502, 500, 200];
		const stub = purgeApiStub((n) =>
			statuses[n - 1] === 200 ? ok() : new Response("down", { status: statuses[n - 1] }),
		);
		const delays: number[] = [];
		for (let attempt = 1; attempt <= 3; attempt++) {
			const { result, queue } = await run([{ tags: ["product:7"] }], stub.fetcher, attempt);
			expect(queue.retryMessages.map((m: { msgId: string }) => m.msgId)).toEqual(["m0"]);
			delays.push(result.retries?.[0]?.delaySeconds ?? -1);
		}
		expect(delays).toEqual([2, 4, 8]);
		const { result, queue } = await run([{ tags: ["product:7"] }], stub.fetcher, 4);
		expect(queue.explicitAcks).toEqual(["m0"]);
		expect(result.repurge).toEqual({ delaySeconds: 60 });
		expect(stub.requests).toHaveLength(4);
		expect(new Set(stub.requests.map((r) => JSON.stringify(r.body)))).toEqual(new Set(['{"tags":["product:7"]}']));
	});

	it("retries when the API cannot be reached at all", async () => {
		const fetcher = (async () => {
			throw new TypeError("Network connection lost.");
		}) as typeof fetch;
		const { queue } = await run([{ tags: ["a"] }], fetcher);
		expect(queue.retryMessages).toHaveLength(1);
	});

	it("does not schedule another re-purge for a re-purge", async () => {
		const stub = purgeApiStub(ok);
		const { result } = await run([{ tags: ["a"], repurge: true }], stub.fetcher);
		expect(result.repurge).toBeUndefined();
	});

	it("acks with an alert when the API rejects the purge for good (4xx) or a message is malformed", async () => {
		const errors = vi.spyOn(console, "error").mockImplementation(() => {});
		const stub = purgeApiStub(() => new Response('{"success":false,"errors":[{"code":1012}]}', { status: 400 }));
		const { queue } = await run([{ tags: ["a"] }, { tags: "not a list" }], stub.fetcher);
		expect(queue.explicitAcks.sort()).toEqual(["m0", "m1"]);
		const alerts = errors.mock.calls.map(([line]) => JSON.parse(String(line)).alert);
		expect(alerts.sort()).toEqual(["purge_message_invalid", "purge_rejected"]);
	});

	it("backs off with jitter, capped, and never below Retry-After", () => {
		expect(retryDelaySeconds(1, undefined, () => 0)).toBe(1);
		expect(retryDelaySeconds(3, undefined, () => 1)).toBe(8);
		expect(retryDelaySeconds(30, undefined, () => 1)).toBe(300);
		expect(retryDelaySeconds(1, 120, () => 1)).toBe(120);
	});
});

describe("the dead-letter queue", () => {
	it("logs an alert for each purge that failed every retry, and acks it", async () => {
		const errors = vi.spyOn(console, "error").mockImplementation(() => {});
		const messages = createMessageBatch("tiercache-purge-dlq", [
			{ id: "d1", timestamp: new Date(), attempts: 13, body: { tags: ["product:9"] } },
		]);
		const ctx = createExecutionContext();
		consumeDeadLetters(messages);
		expect((await getQueueResult(messages, ctx)).explicitAcks).toEqual(["d1"]);
		expect(JSON.parse(String(errors.mock.calls[0]?.[0]))).toMatchObject({
			alert: "purge_dead_lettered",
			attempts: 13,
			body: { tags: ["product:9"] },
		});
	});
});

describe("purgers", () => {
	it("reports each purger that is not configured once, never silently", () => {
		const warns = vi.spyOn(console, "warn").mockImplementation(() => {});
		const ctx = createExecutionContext();
		// The test bindings configure no purger (a Worker's Env declares none of their variables).
		const unconfigured = { ...env } as PurgeEnv;
		expect(configuredPurgers(unconfigured, ctx)).toEqual([]);
		expect(configuredPurgers(unconfigured, ctx)).toEqual([]);
		const lines = warns.mock.calls.map(([line]) => JSON.parse(String(line)).purger);
		expect(lines.filter((p) => p === "zone").length).toBeLessThanOrEqual(1);
		expect(lines.filter((p) => p === "workers-cache").length).toBeLessThanOrEqual(1);
	});

	it("configures the zone purger from PURGE_ZONE_ID and PURGE_API_TOKEN", () => {
		const purgers = configuredPurgers({ ...env, PURGE_ZONE_ID: "z", PURGE_API_TOKEN: "t" }, createExecutionContext());
		expect(purgers.map((p) => p.name)).toEqual(["zone"]);
	});

	it("purges Workers Cache through ctx.cache.purge in calls of at most 100 tags", async () => {
		const calls: CachePurgeOptions[] = [];
		const cache: CacheContext = {
			purge: async (options) => {
				calls.push(options);
				return { success: true, errors: [] };
			},
		};
		await workersCachePurger(cache).purge({ tags: Array.from({ length: 120 }, (_, i) => `t:${i}`) });
		expect(calls.map((c) => c.tags?.length)).toEqual([100, 20]);
		await workersCachePurger(cache).purge({ everything: true });
		expect(calls[2]).toEqual({ purgeEverything: true });
	});
});

/** Records each outbound request exactly (method, URL, headers), answers from a script. */
function httpStub(script: (n: number) => Response) {
	const requests: { method: string; url: string; headers: Record<string, string> }[] = [];
	const fetcher = (async (input: RequestInfo | URL, init?: RequestInit) => {
		const request = new Request(input, init);
		requests.push({ method: request.method, url: request.url, headers: Object.fromEntries(request.headers) });
		return script(requests.length);
	}) as typeof fetch;
	return { requests, fetcher };
}

describe("surrogate-key purgers", () => {
	it("purge Varnish by xkey with the token, keys in groups that fit a header", async () => {
		const stub = httpStub(() => new Response("purged", { status: 200, headers: { "X-Purged": "2" } }));
		const varnish = varnishPurger({ url: "http://127.0.0.1:8080/", token: "tok-1", fetch: stub.fetcher });
		await varnish.purge({ tags: ["product:1", "products"] });
		await varnishPurger({ url: "http://127.0.0.1:8080/", token: "tok-1", soft: true, fetch: stub.fetcher }).purge({
			tags: ["product:2"],
		});
		await varnish.purge({ everything: true });
		expect(stub.requests).toEqual([
			{
				method: "PURGE",
				url: "http://127.0.0.1:8080/",
				headers: { "x-purge-token": "tok-1", "xkey-purge": "product:1 products" },
			},
			{
				method: "PURGE",
				url: "http://127.0.0.1:8080/",
				headers: { "x-purge-token": "tok-1", "xkey-softpurge": "product:2" },
			},
			{ method: "PURGE", url: "http://127.0.0.1:8080/", headers: { "x-purge-token": "tok-1", "x-purge-all": "1" } },
		]);
		expect(keyGroups(["a".repeat(5000), "b".repeat(2000), "c"], 100, 6000).map((g) => g.length)).toEqual([1, 2]);
	});

	it("purge Fastly by Surrogate-Key, at most 256 keys a call, soft when asked, purge_all for everything", async () => {
		const stub = httpStub(() => Response.json({ status: "ok" }));
		const keys = Array.from({ length: 300 }, (_, i) => `p:${i}`);
		const options = {
			serviceId: "svc 1",
			apiToken: "fastly-token",
			baseUrl: "https://fastly.stub",
			fetch: stub.fetcher,
		};
		await fastlyPurger(options).purge({ tags: keys });
		await fastlyPurger({ ...options, soft: true }).purge({ tags: ["p:1"] });
		await fastlyPurger(options).purge({ everything: true });
		const base = { "fastly-key": "fastly-token", accept: "application/json" };
		expect(stub.requests).toEqual([
			{
				method: "POST",
				url: "https://fastly.stub/service/svc%201/purge",
				headers: { ...base, "surrogate-key": keys.slice(0, 256).join(" ") },
			},
			{
				method: "POST",
				url: "https://fastly.stub/service/svc%201/purge",
				headers: { ...base, "surrogate-key": keys.slice(256).join(" ") },
			},
			{
				method: "POST",
				url: "https://fastly.stub/service/svc%201/purge",
				headers: { ...base, "surrogate-key": "p:1", "fastly-soft-purge": "1" },
			},
			{ method: "POST", url: "https://fastly.stub/service/svc%201/purge_all", headers: base },
		]);
	});

	it("classify answers: 429 and 5xx are retried (after Retry-After), other 4xx are not", async () => {
		const answers = [
			new Response("slow down", { status: 429, headers: { "Retry-After": "7" } }),
			new Response("down", { status: 503 }),
			new Response("bad token", { status: 401 }),
		];
		const stub = httpStub((n) => answers[n - 1] as Response);
		const varnish = varnishPurger({ url: "http://127.0.0.1:8080/", token: "t", fetch: stub.fetcher });
		await expect(varnish.purge({ tags: ["a"] })).rejects.toMatchObject({ retryAfterS: 7 });
		await expect(varnish.purge({ tags: ["a"] })).rejects.toThrow(/answered 503/);
		const rejected = await varnish.purge({ tags: ["a"] }).catch((err) => err);
		expect(rejected.constructor.name).toBe("PermanentPurgeError");
		const unreachable = fastlyPurger({
			serviceId: "s",
			apiToken: "t",
			fetch: (async () => {
				throw new Error("connection refused");
			}) as typeof fetch,
		});
		const failed = await unreachable.purge({ tags: ["a"] }).catch((err) => err);
		expect(failed.constructor.name).toBe("RetryablePurgeError");
	});

	it("are configured from their variables; one half-configured is reported, not used", () => {
		const warns = vi.spyOn(console, "warn").mockImplementation(() => {});
		const ctx = createExecutionContext();
		const both = configuredPurgers(
			{
				...env,
				VARNISH_PURGE_URL: "http://127.0.0.1:8080/",
				VARNISH_PURGE_TOKEN: "t",
				FASTLY_SERVICE_ID: "s",
				FASTLY_API_TOKEN: "f",
			},
			ctx,
		);
		expect(both.map((p) => p.name)).toEqual(["varnish", "fastly"]);
		expect(configuredPurgers({ ...env, VARNISH_PURGE_URL: "http://127.0.0.1:8080/" }, ctx)).toEqual([]);
		const reported = warns.mock.calls.map(([line]) => JSON.parse(String(line)));
		expect(reported).toContainEqual(expect.objectContaining({ purger: "varnish" }));
		expect(JSON.stringify(reported)).not.toContain('"t"'); // no token in a log line
	});
});

describe("enqueuePurge", () => {
	it("keeps within the queue's limits, which the local queue enforces", async () => {
		// 300 tags of 1,000 characters: three messages of about 100 KB, which one
		// sendBatch (256 KB at most) cannot carry.
		const long = Array.from({ length: 300 }, (_, i) => `t:${String(i).padStart(998, "0")}`);
		await expect(
			env.PURGE_QUEUE.sendBatch(
				[0, 1, 2].map((i) => ({ body: { tags: long.slice(i * 100, i * 100 + 100) }, contentType: "json" as const })),
			),
		).rejects.toThrow();
		await expect(enqueuePurge(env.PURGE_QUEUE, { tags: long })).resolves.toBeUndefined();
		await expect(
			enqueuePurge(env.PURGE_QUEUE, { tags: Array.from({ length: 250 }, (_, i) => `t:${i}`) }),
		).resolves.toBeUndefined();
		await expect(enqueuePurge(env.PURGE_QUEUE, { everything: true })).resolves.toBeUndefined();
	});
});
