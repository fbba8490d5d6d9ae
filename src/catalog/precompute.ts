import { createDb } from "../db/client";
import { categoriesOfProducts } from "../db/top-products";
import type { Bindings } from "../env";
import type { CatalogCache, CatalogPolicies } from "./cache";
import { loadRanking } from "./routes/top-products";
import { tags as tagNames } from "./tags";

const STATE = "top_products_seq";
/** Above this many changed tags since the last run, every scope is recomputed. */
const MAX_CHANGED_TAGS = 5_000;

/**
 * The cron's precompute: the top-products ranking of every scope whose data
 * changed since the last run (all of them on the first run), computed once
 * and stored through the cache engine like any other entry, so a visitor
 * never waits for the aggregate. Returns the scopes recomputed.
 */
export async function precomputeTopProducts(
	env: Bindings,
	cache: CatalogCache,
	policies: CatalogPolicies,
): Promise<{ scopes: (string | null)[]; since: number; through: number }> {
	const d1 = env.DB;
	const [state, counter] = await d1.batch<{ value: number }>([
		d1.prepare("SELECT value FROM cache_state WHERE name = ?1").bind(STATE),
		d1.prepare("SELECT value FROM cache_seq WHERE id = 1"),
	]);
	const since = Number(state?.results[0]?.value ?? 0);
	const through = Number(counter?.results[0]?.value ?? 0);
	const scopes = await scopesToRecompute(env, since, through);
	for (const category of scopes) {
		await cache.prefill(env, policies.topProducts, { query: { category } }, (origin) => loadRanking(origin, category));
	}
	await d1
		.prepare(
			"INSERT INTO cache_state (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
		)
		.bind(STATE, through)
		.run();
	return { scopes: scopes.map((s) => s ?? null), since, through };
}

/** undefined stands for the overall ranking. */
async function scopesToRecompute(env: Bindings, since: number, through: number): Promise<(string | undefined)[]> {
	const d1 = env.DB;
	const all = async () => {
		const rows = await d1.prepare("SELECT slug FROM categories ORDER BY slug").all<{ slug: string }>();
		return [undefined, ...rows.results.map((r) => r.slug)];
	};
	if (since === 0) return all();
	if (through <= since) return [];
	const changed = await d1
		.prepare("SELECT tag FROM cache_tag_seq WHERE seq > ?1 LIMIT ?2")
		.bind(since, MAX_CHANGED_TAGS + 1)
		.all<{ tag: string }>();
	const tags = changed.results.map((r) => r.tag);
	if (tags.length > MAX_CHANGED_TAGS || tags.includes(tagNames.categories) || tags.includes(tagNames.topProducts)) {
		return all();
	}
	const productIds = tags.flatMap((t) => (/^product:(\d+)$/.exec(t) ? [Number(t.slice(8))] : []));
	const categoryIds = new Set(tags.flatMap((t) => (/^category:(\d+)$/.exec(t) ? [Number(t.slice(9))] : [])));
	if (productIds.length > 0) {
		for (const row of await categoriesOfProducts(createDb(d1), productIds)) categoryIds.add(row.categoryId);
	}
	if (productIds.length === 0 && categoryIds.size === 0) return [];
	const slugs = await d1
		.prepare("SELECT slug FROM categories WHERE id IN (SELECT value FROM json_each(?1)) ORDER BY slug")
		.bind(JSON.stringify([...categoryIds]))
		.all<{ slug: string }>();
	return [undefined, ...slugs.results.map((r) => r.slug)];
}
