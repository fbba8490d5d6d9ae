import { pruneDeliveries } from "tiercache/webhook";
import { createApp } from "./app";
import type { Bindings } from "./env";

// One app, and so one cache engine, per isolate: shared by fetch and scheduled.
const app = createApp();

export default {
	fetch: app.fetch,

	// The cron: hands the bumps of writes made behind the API's back to the
	// edge purge, and forgets webhook deliveries past their replay window.
	async scheduled(_controller, env) {
		const swept = await app.cache.sweep(env);
		const pruned = await pruneDeliveries(env.DB);
		console.log(JSON.stringify({ level: "info", component: "cron", swept, prunedDeliveries: pruned }));
	},
} satisfies ExportedHandler<Bindings>;
