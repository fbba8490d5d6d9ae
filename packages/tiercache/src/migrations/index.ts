/**
 * tiercache/migrations: the engine's D1 tables as SQL, and the generator of
 * invalidation triggers from a declaration of the cached tables.
 *
 * @packageDocumentation
 */
export { ENGINE_MIGRATION_SQL } from "./engine-sql.js";
export {
	type CachedTable,
	defineInvalidation,
	generateTriggerMigration,
	InvalidationDeclarationError,
	type RowOperation,
	type TagRule,
	type TriggerMigrationOptions,
} from "./triggers.js";
