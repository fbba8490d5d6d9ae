import { env } from "cloudflare:workers";
import { sign, verifySignature } from "tiercache/webhook";
import { beforeAll, describe, expect, it } from "vitest";
import { cacheStatus, testApp } from "./helpers/app";
import { fetchApp, seedSmallCatalog } from "./helpers/fixtures";
import { signedWebhook, WEBHOOK_SECRET } from "./helpers/webhook";

const SECRET = WEBHOOK_SECRET;
const encoder = new TextEncoder();

beforeAll(async () => {
	await seedSmallCatalog();
});

const signed = signedWebhook;

async function counter(): Promise<number> {
	const row = await env.DB.prepare("SELECT value FROM cache_seq WHERE id = 1").first<{ value: number }>();
	return Number(row?.value);
}

describe("Standard Webhooks signatures", () => {
	it("match the official test vector", async () => {
		const body = encoder.encode('{"test": 2432232314}');
		expect(await sign(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body)).toBe(
			"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
		);
		const headers = {
			id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
			timestamp: "1614265330",
			signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
		};
		expect(await verifySignature([SECRET], headers, body, 1614265330)).toEqual({ ok: true });
		expect(await verifySignature([SECRET], headers, body, 1614265330 + 301)).toMatchObject({ ok: false });
		expect(await verifySignature([SECRET], headers, encoder.encode('{"test": 2432232315}'), 1614265330)).toMatchObject({
			ok: false,
		});
	});
});

describe("POST /v1/webhooks/purge", () => {
	it("202s after committing the bump; the next read of the tag at this isolate is fresh", async () => {
		const a = testApp();
		await a.request("/v1/products/1");
		expect(cacheStatus(await a.request("/v1/products/1"))).toMatch(/memory; hit/);
		const before = await counter();
		const res = await a.request(
			"/v1/webhooks/purge",
			await signed('{"tags": ["product:1", "product:1", "campaign:x"]}'),
		);
		expect(res.status).toBe(202);
		const body = (await res.json()) as { id: string; tags: string[]; seq: number };
		expect(body.tags).toEqual(["product:1", "campaign:x"]);
		expect(body.seq).toBe(before + 1);
		expect(await counter()).toBe(body.seq); // committed before the answer
		// The product was read twice here: the webhook re-warmed it while its answer waited, so the next read
		// is a hit of the entry reloaded after the bump (a second load), not of the one before it.
		expect(cacheStatus(await a.request("/v1/products/1"))).toMatch(/^tiercache-memory; hit/);
		expect(a.cache.stats.origin.loads).toBe(2);
		expect(a.cache.stats.rewarm.keys).toBe(1);
		const rewarmed = [...a.cache.memory.keys()].map((key) => a.cache.memory.peek(key)?.readSeq ?? -1);
		expect(Math.max(...rewarmed)).toBeGreaterThanOrEqual(body.seq);
	});

	it("answers a replayed webhook-id with the first answer and does not invalidate again", async () => {
		const a = testApp();
		const init = await signed('{"tags": ["product:2"]}', { id: "msg_replay_1" });
		const first = await a.request("/v1/webhooks/purge", init);
		expect(first.status).toBe(202);
		const firstBody = await first.json();
		const seq = await counter();
		const again = await a.request(
			"/v1/webhooks/purge",
			await signed('{"tags": ["product:2"]}', { id: "msg_replay_1" }),
		);
		expect(again.status).toBe(200);
		expect(await again.json()).toEqual(firstBody);
		expect(await counter()).toBe(seq);
	});

	it("accepts purgeEverything, raising the floor", async () => {
		const a = testApp();
		await a.request("/v1/categories");
		const res = await a.request("/v1/webhooks/purge", await signed('{"purgeEverything": true}'));
		expect(res.status).toBe(202);
		const body = (await res.json()) as { seq: number; purgeEverything: boolean };
		expect(body.purgeEverything).toBe(true);
		const floor = await env.DB.prepare("SELECT value FROM cache_state WHERE name = 'floor'").first<{ value: number }>();
		expect(floor?.value).toBe(body.seq);
		expect(cacheStatus(await a.request("/v1/categories"))).toMatch(/memory; fwd=miss; detail=invalidated/);
	});

	it("accepts a signature made with any configured secret (rotation) and any of several signatures", async () => {
		const a = testApp();
		const next = "whsec_bmV4dC1zZWNyZXQtZm9yLXJvdGF0aW9uLXRlc3Q=";
		const rotated = { PURGE_WEBHOOK_SECRET: `${SECRET} ${next}` };
		const res = await a.request("/v1/webhooks/purge", await signed('{"tags": ["a:1"]}', { secret: next }), rotated);
		expect(res.status).toBe(202);
		const body = '{"tags": ["a:2"]}';
		const init = await signed(body);
		const good = init.headers["webhook-signature"];
		init.headers["webhook-signature"] = `v1,${btoa("x".repeat(32))} v2,ignored ${good}`;
		expect((await a.request("/v1/webhooks/purge", init)).status).toBe(202);
	});

	it.each([
		[
			"no signature",
			async () => {
				const init = await signed('{"tags": ["x:1"]}');
				init.headers["webhook-signature"] = "";
				return init;
			},
		],
		["a wrong signature", () => signed('{"tags": ["x:1"]}', { signature: `v1,${btoa("y".repeat(32))}` })],
		["another secret", () => signed('{"tags": ["x:1"]}', { secret: "whsec_b3RoZXItc2VjcmV0LW5vdC1jb25maWd1cmVk" })],
		[
			"a body changed after signing",
			async () => ({ ...(await signed('{"tags": ["x:1"]}')), body: '{"tags": ["x:2"]}' }),
		],
		[
			"a timestamp 6 minutes old",
			() => signed('{"tags": ["x:1"]}', { timestamp: Math.floor(Date.now() / 1000) - 360 }),
		],
		[
			"a timestamp 6 minutes ahead",
			() => signed('{"tags": ["x:1"]}', { timestamp: Math.floor(Date.now() / 1000) + 360 }),
		],
		[
			"a malformed timestamp",
			async () => {
				const init = await signed('{"tags": ["x:1"]}');
				init.headers["webhook-timestamp"] = "yesterday";
				return init;
			},
		],
		[
			"no webhook-id",
			async () => {
				const init = await signed('{"tags": ["x:1"]}');
				init.headers["webhook-id"] = "";
				return init;
			},
		],
	])("401s for %s and invalidates nothing", async (_, build) => {
		const a = testApp();
		const seq = await counter();
		const res = await a.request("/v1/webhooks/purge", await build());
		expect(res.status).toBe(401);
		expect(await res.json()).toMatchObject({ error: { code: "unauthorized" } });
		expect(await counter()).toBe(seq);
	});

	it.each([
		["malformed JSON", "{"],
		["no tags", '{"tags": []}'],
		["101 tags", JSON.stringify({ tags: Array.from({ length: 101 }, (_, i) => `t:${i}`) })],
		["a tag with a space", '{"tags": ["a b"]}'],
		["a tag with a comma", '{"tags": ["a,b"]}'],
		["a non-ASCII tag", '{"tags": ["caf\u00e9"]}'],
		["a tag of 1,025 characters", JSON.stringify({ tags: ["t".repeat(1025)] })],
		["an unknown field", '{"tags": ["a"], "extra": 1}'],
		["purgeEverything false", '{"purgeEverything": false}'],
		["a tag that is a number", '{"tags": [42]}'],
	])("400s for %s and invalidates nothing", async (_, body) => {
		const a = testApp();
		const seq = await counter();
		const res = await a.request("/v1/webhooks/purge", await signed(body));
		expect(res.status).toBe(400);
		expect(await res.json()).toMatchObject({ error: { code: "invalid_request" } });
		expect(await counter()).toBe(seq);
	});

	it("415s for a body that is not JSON and 413s for one over 64 KiB", async () => {
		const a = testApp();
		const init = await signed('{"tags": ["x:1"]}');
		const res = await a.request("/v1/webhooks/purge", {
			...init,
			headers: { ...init.headers, "Content-Type": "text/plain" },
		});
		expect(res.status).toBe(415);
		const big = await signed(JSON.stringify({ tags: ["x:1"], pad: "p".repeat(70_000) }));
		expect((await a.request("/v1/webhooks/purge", big)).status).toBe(413);
	});

	it("refuses to run in production with the development secret", async () => {
		const a = testApp();
		const res = await a.request("/v1/webhooks/purge", await signed('{"tags": ["x:1"]}'), {
			PURGE_WEBHOOK_SECRET: "whsec_dGllcmNhY2hlLWxvY2FsLWRldmVsb3BtZW50LWtleSE=",
		});
		expect(res.status).toBe(503);
		expect(await res.json()).toMatchObject({ error: { code: "webhook_not_configured" } });
	});

	// Up to 400 calls: enough to cross the 120-a-minute limit even if a window turns over mid-test.
	it("429s with Retry-After past the rate limit, after allowing at least 60 calls a minute", async () => {
		const headers = { "CF-Connecting-IP": "203.0.113.9" };
		let accepted = 0;
		let limited: Response | undefined;
		// In rounds of 20 at once: each accepted purge answers once its location's isolates see it.
		for (let i = 0; i < 400 && !limited; i += 20) {
			const round = await Promise.all(
				Array.from({ length: 20 }, async (_, j) => {
					const init = await signed(`{"tags": ["rl:${i + j}"]}`);
					// Through the Worker without waiting for its background publishing.
					return fetchApp("/v1/webhooks/purge", { ...init, headers: { ...init.headers, ...headers } });
				}),
			);
			for (const res of round) {
				if (res.status === 429) limited ??= res;
				else if (res.status === 202) accepted++;
			}
		}
		expect(accepted).toBeGreaterThanOrEqual(60);
		expect(limited?.headers.get("Retry-After")).toMatch(/^\d+$/);
		expect(await limited?.json()).toMatchObject({ error: { code: "rate_limited" } });
	});
});
