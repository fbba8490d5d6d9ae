import { getPlatformProxy } from "wrangler";

/**
 * The local D1 database that `wrangler dev` serves (.wrangler/state), opened
 * through wrangler's platform proxy. Call `dispose()` when done.
 */
export async function openLocalD1() {
	const proxy = await getPlatformProxy({ configPath: "wrangler.toml", persist: true });
	return { db: proxy.env.DB, dispose: () => proxy.dispose() };
}
