import type { BatchItem, BatchResponse } from "drizzle-orm/batch";
import { createDb, type Db } from "./db/client";
import { type Bindings, isDevelopment } from "./env";

/**
 * The origin as a loader sees it: drizzle over D1, and `batch` to run a
 * loader's queries as one D1 transaction (one round trip to the primary).
 */
export interface Origin {
	db: Db;
	batch<U extends BatchItem<"sqlite">, T extends Readonly<[U, ...U[]]>>(queries: T): Promise<BatchResponse<T>>;
}

/** ORIGIN_DELAY_MS in milliseconds; 0 unless ENVIRONMENT=development. */
export function originDelayMs(env: Bindings): number {
	if (!isDevelopment(env)) return 0;
	const delay = Number(env.ORIGIN_DELAY_MS ?? 0);
	return Number.isInteger(delay) && delay > 0 ? Math.min(delay, 30_000) : 0;
}

export function createOrigin(env: Bindings): Origin {
	const db = createDb(env.DB);
	const delay = originDelayMs(env);
	return {
		db,
		async batch(queries) {
			// Stands in for the distance to the D1 primary (benchmarks, local testing).
			if (delay > 0) await scheduler.wait(delay);
			return db.batch(queries);
		},
	};
}
