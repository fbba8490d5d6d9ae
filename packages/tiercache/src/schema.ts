import { sql } from "drizzle-orm";
import { check, index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * The engine's tables. `cache_seq` is one counter (row id 1); every
 * invalidation of a tag sets its row in `cache_tag_seq` to a new value of the
 * counter. Apps using the engine include this schema in their drizzle config.
 */
export const cacheSeq = sqliteTable(
	"cache_seq",
	{
		id: integer("id").primaryKey(),
		value: integer("value").notNull(),
	},
	(t) => [check("cache_seq_single_row", sql`${t.id} = 1`)],
);

export const cacheTagSeq = sqliteTable(
	"cache_tag_seq",
	{
		tag: text("tag").primaryKey(),
		seq: integer("seq").notNull(),
		/**
		 * The seq up to which this tag has been published to KV and handed to
		 * the purge queue. `seq > handled_seq` is the work the cron sweeps up.
		 */
		handledSeq: integer("handled_seq").notNull().default(0),
	},
	(t) => [index("cache_tag_seq_seq_idx").on(t.seq)],
);

/** Named counters of the engine: `floor` (everything read before it is invalid). */
export const cacheState = sqliteTable("cache_state", {
	name: text("name").primaryKey(),
	value: integer("value").notNull(),
});
