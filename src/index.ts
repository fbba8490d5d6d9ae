import { configuredPurgers, consumeDeadLetters, consumePurgeBatch, repurgeDelaySeconds } from "tiercache/purge";
import { pruneDeliveries } from "tiercache/webhook";
import { createApp } from "./app";
import { precomputeTopProducts } from "./catalog/precompute";
import type { Bindings } from "./env";

// One app (and so one cache engine: memory tier, clock view, counters) per isolate,
// shared by the fetch, scheduled and queue handlers.
const app = createApp();

export default {
	fetch: app.serve,

	async queue(batch, env, ctx) {
		if (batch.queue.endsWith("-dlq")) return consumeDeadLetters(batch);
		// An isolate whose view had not yet seen a bump (at most a second) may
		// refill the edge after the first purge: one re-purge a few seconds later clears it.
		const result = await consumePurgeBatch(batch, env.PURGE_QUEUE, configuredPurgers(env, ctx), {
			repurgeDelayS: repurgeDelaySeconds(env),
			rewarm: (target) => app.cache.rewarm(target, async (url) => app.fetch(new Request(url), env, ctx)),
		});
		app.cache.stats.recordQueueBatch(result);
		console.log(JSON.stringify({ level: "info", component: "purge", ...result, tags: result.tags.length }));
	},

	// Finishes its work before returning, so `GET /__scheduled` answers after it.
	async scheduled(_controller, env) {
		const swept = await app.cache.sweep(env);
		const precomputed = await precomputeTopProducts(env, app.cache, app.policies);
		const pruned = await pruneDeliveries(env.DB);
		console.log(
			JSON.stringify({
				level: "info",
				component: "cron",
				swept,
				topProducts: precomputed.scopes.length,
				prunedDeliveries: pruned,
			}),
		);
	},
} satisfies ExportedHandler<Bindings>;
