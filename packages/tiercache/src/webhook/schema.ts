import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Purge webhook deliveries, kept for replay detection (webhook-id). */
export const webhookDeliveries = sqliteTable(
	"webhook_deliveries",
	{
		id: text("id").primaryKey(),
		response: text("response").notNull(),
		receivedAt: integer("received_at").notNull(),
	},
	(t) => [index("webhook_deliveries_received_idx").on(t.receivedAt)],
);
