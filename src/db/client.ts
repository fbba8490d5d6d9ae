import { type DrizzleD1Database, drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

export type Db = DrizzleD1Database<typeof schema>;

/** One handle per binding: drizzle derives its relational config from the schema on every call. */
const handles = new WeakMap<object, Db>();

/** A drizzle handle over a D1 binding (or a D1 session, for read replicas), made once per binding. */
export function createDb(d1: D1Database | D1DatabaseSession): Db {
	let db = handles.get(d1);
	if (!db) {
		db = drizzle(d1 as D1Database, { schema });
		handles.set(d1, db);
	}
	return db;
}
