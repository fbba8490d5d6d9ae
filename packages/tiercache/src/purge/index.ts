/**
 * tiercache/purge: the edge purge — the queue's messages and consumer, the
 * purgers (Workers Cache, the zone purge API, Varnish, Fastly) and the first
 * purge attempt made before a write's answer.
 *
 * @packageDocumentation
 */
export {
	type ConsumeOptions,
	type ConsumeResult,
	configuredPurgers,
	consumeDeadLetters,
	consumePurgeBatch,
	type PurgeEnv,
	purgeEdgeNow,
	retryDelaySeconds,
} from "./consumer.js";
export {
	chunks,
	type FastlyPurgerOptions,
	fastlyPurger,
	keyGroups,
	MAX_TAGS_PER_PURGE,
	PermanentPurgeError,
	type Purger,
	RetryablePurgeError,
	retryAfterSeconds,
	type VarnishPurgerOptions,
	varnishPurger,
	workersCachePurger,
	type ZonePurgerOptions,
	zonePurger,
} from "./purgers.js";
export {
	enqueuePurge,
	type PurgeMessage,
	parsePurgeMessage,
	REPURGE_DELAY_S,
	repurgeDelaySeconds,
} from "./queue.js";
