import { type DrizzleD1Database, drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

export type Db = DrizzleD1Database<typeof schema>;

/** A drizzle handle over a D1 binding (or a D1 session, for read replicas). */
export function createDb(d1: D1Database | D1DatabaseSession): Db {
	return drizzle(d1 as D1Database, { schema });
}
