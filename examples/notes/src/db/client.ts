import { type DrizzleD1Database, drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

export type Db = DrizzleD1Database<typeof schema>;

/** A drizzle handle over a D1 binding. */
export function createDb(d1: D1Database): Db {
	return drizzle(d1, { schema });
}
