import { createApp } from "./app";
import type { Bindings } from "./env";

const app = createApp();

export default {
	fetch: app.fetch,
	async queue(batch) {
		// The purge consumer arrives with the invalidation path; until then
		// nothing is enqueued, and a message that does arrive is retried (then
		// dead-lettered) rather than dropped.
		batch.retryAll();
	},
	async scheduled() {
		// Cron work (publishing out-of-band invalidations) arrives with the invalidation path.
	},
} satisfies ExportedHandler<Bindings>;
