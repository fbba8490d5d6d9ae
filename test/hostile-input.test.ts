import { env } from "cloudflare:workers";
import fc from "fast-check";
import { sign } from "tiercache/webhook";
import { beforeAll, describe, expect, it } from "vitest";
import { testApp } from "./helpers/app";
import { ADMIN, seedSmallCatalog } from "./helpers/fixtures";

beforeAll(async () => {
	await seedSmallCatalog();
});

const counts = async () =>
	env.DB.prepare(
		"SELECT (SELECT count(*) FROM products) AS p, (SELECT count(*) FROM reviews) AS r, (SELECT count(*) FROM categories) AS c, (SELECT value FROM cache_seq) AS s",
	).first();

const a = testApp();
// Writes publish in the background; these tests look at answers and rows only.
const send = (method: string, path: string, body: string) =>
	a.request(path, { method, headers: { ...ADMIN, "Content-Type": "application/json" }, body }, {}, { wait: false });

const WRITES: [string, string][] = [
	["POST", "/v1/products"],
	["PATCH", "/v1/products/2"],
	["POST", "/v1/categories"],
	["PATCH", "/v1/categories/garden"],
	["POST", "/v1/products/1/reviews"],
];

/** Numbers a client might send where an integer belongs. */
const hostileNumber = fc.oneof(
	fc.double({ noNaN: true }),
	fc.integer({ min: -(2 ** 53), max: -1 }),
	fc.constantFrom(1e21, 2 ** 53 + 2, -0.5, 0.1, 1e-7, 1.5),
);

/** Bodies shaped like a product with at least one hostile field. */
const hostileProduct = fc.record(
	{
		sku: fc.oneof(fc.string(), fc.constant("OK-1"), fc.integer()),
		name: fc.oneof(fc.string({ unit: "binary", maxLength: 300 }), fc.constant("Fine")),
		priceCents: fc.oneof(hostileNumber, fc.string()),
		categoryId: fc.oneof(hostileNumber, fc.constant(1), fc.constant(null)),
		stock: fc.oneof(hostileNumber, fc.boolean()),
	},
	{ requiredKeys: [] },
);

describe("every write route answers arbitrary JSON with a 4xx and writes nothing", () => {
	it.each(WRITES)("%s %s", async (method, path) => {
		await fc.assert(
			fc.asyncProperty(fc.oneof(fc.jsonValue({ maxDepth: 4 }), hostileProduct), async (value) => {
				const before = await counts();
				const res = await send(method, path, JSON.stringify(value));
				expect([200, 201, 400, 404, 409]).toContain(res.status);
				if (res.status >= 400) {
					expect(res.headers.get("Cache-Control")).toBe("no-store");
					expect(await counts()).toEqual(before);
				}
			}),
			{ numRuns: 60 },
		);
	});
});

describe("numbers out of range are 400s, whatever their notation", () => {
	it.each(["1e400", "-1", "1.5", "9007199254740993", "1e9999", "-0.0001", "1E+3x"])("priceCents: %s", async (raw) => {
		const before = await counts();
		const res = await send(
			"POST",
			"/v1/products",
			`{"sku":"N-${raw.length}","name":"n","priceCents":${raw},"categoryId":1}`,
		);
		expect(res.status).toBe(400);
		expect(await counts()).toEqual(before);
	});
});

describe("malformed and deeply nested JSON", () => {
	it.each([
		["deeply nested arrays", "[".repeat(20_000) + "]".repeat(20_000)],
		["deeply nested objects", '{"a":'.repeat(5_000) + "1" + "}".repeat(5_000)],
		["truncated", '{"rating": 5'],
		["NaN", '{"rating": NaN}'],
		["a duplicate key", '{"rating": 5, "rating": 0}'],
	])("%s → 400", async (_, body) => {
		const before = await counts();
		const res = await send("POST", "/v1/products/1/reviews", body);
		expect(res.status).toBe(400);
		expect(await res.json()).toMatchObject({ error: { code: "invalid_request" } });
		expect(await counts()).toEqual(before);
	});
});

describe("SQL-looking and unusual Unicode strings are data, stored as sent", () => {
	it.each([
		"'; DROP TABLE products; --",
		"Robert'); DELETE FROM reviews WHERE ('1'='1",
		"1 OR 1=1",
		"\u202Eevil\u202C",
		"zero\u200Bwidth",
		"e\u0301\u0301\u0301",
		"𝕿𝖎𝖊𝖗 🗄️🚀",
		"%00%27",
	])("%j", async (name) => {
		const res = await send(
			"POST",
			"/v1/categories",
			JSON.stringify({ slug: `s-${crypto.randomUUID().slice(0, 8)}`, name }),
		);
		expect(res.status).toBe(201);
		const body = (await res.json()) as { data: { slug: string; name: string } };
		expect(body.data.name).toBe(name);
		const read = await a.request(`/v1/categories/${body.data.slug}`);
		expect(((await read.json()) as { data: { name: string } }).data.name).toBe(name);
		expect(await counts()).toMatchObject({ p: expect.any(Number), r: expect.any(Number) });
	});

	it("lone surrogates are rejected rather than mangled", async () => {
		const res = await send("POST", "/v1/categories", '{"slug":"lone","name":"bad \\ud800 half"}');
		expect(res.status).toBe(400);
	});
});

describe("the purge webhook under arbitrary tag lists", () => {
	const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
	const valid = (tags: string[]) =>
		tags.length >= 1 && tags.length <= 100 && tags.every((t) => /^[\x21-\x2B\x2D-\x7E]{1,1024}$/.test(t));
	let n = 0;

	it("accepts exactly the lists the contract allows, and invalidates nothing otherwise", async () => {
		await fc.assert(
			fc.asyncProperty(
				fc.array(fc.oneof(fc.string({ unit: "binary", maxLength: 40 }), fc.stringMatching(/^[a-z]{1,8}:[0-9]{1,4}$/)), {
					maxLength: 120,
				}),
				async (tags) => {
					const body = JSON.stringify({ tags });
					const id = `msg_prop_${++n}`;
					const timestamp = String(Math.floor(Date.now() / 1000));
					const seq = (await counts())?.s;
					const res = await a.request(
						"/v1/webhooks/purge",
						{
							method: "POST",
							headers: {
								"Content-Type": "application/json",
								"webhook-id": id,
								"webhook-timestamp": timestamp,
								"webhook-signature": await sign(SECRET, id, timestamp, new TextEncoder().encode(body)),
							},
							body,
						},
						{},
						{ wait: false },
					);
					if (valid(tags)) expect(res.status).toBe(202);
					else {
						expect(res.status).toBe(400);
						expect((await counts())?.s).toBe(seq);
					}
				},
			),
			{ numRuns: 60 },
		);
	});
});
