import { getTableConfig, type SQLiteTable } from "drizzle-orm/sqlite-core";

export type RowOperation = "insert" | "update" | "delete";

/** One tag a row change bumps. */
export interface TagRule {
	/**
	 * The tag: literal text with `{column}` placeholders naming the table's SQL
	 * columns, e.g. `"product:{id}"`, `"category:{category_id}"`, `"products"`.
	 * On UPDATE a placeholder tag is bumped for the old and the new value.
	 */
	tag: string;
	/** Which row changes bump it. Default: insert, update and delete. */
	on?: readonly RowOperation[];
	/** On UPDATE, only when one of these columns changed (`OLD.c IS NOT NEW.c`). Default: any update. */
	whenChanged?: readonly string[];
}

/** A cached table and the tags its row changes bump. */
export interface CachedTable {
	/** A drizzle table, or its SQL name and columns. */
	table: SQLiteTable | { name: string; columns: readonly string[] };
	tags: readonly TagRule[];
}

/** Declares the cached tables of an app: one entry per table (checked when the triggers are generated). */
export function defineInvalidation(tables: readonly CachedTable[]): readonly CachedTable[] {
	return tables;
}

export interface TriggerMigrationOptions {
	/** Triggers of earlier migrations that the generated ones replace (dropped first). */
	replaces?: readonly string[];
	/** A first comment line, e.g. the command that wrote the file. */
	header?: string;
}

/** A declaration that cannot become triggers: what is wrong, and where. */
export class InvalidationDeclarationError extends Error {
	override name = "InvalidationDeclarationError";
}

const OPERATIONS: readonly RowOperation[] = ["insert", "update", "delete"];
/** What a literal part of a tag may hold: printable ASCII without spaces, commas or braces. */
const LITERAL = /^[\x21-\x2B\x2D-\x7A\x7C\x7E]*$/;
const PLACEHOLDER = /\{([^{}]*)\}/g;

type Part = { literal: string } | { column: string };

function tableInfo(table: CachedTable["table"]): { name: string; columns: string[] } {
	if ("name" in table && "columns" in table && Array.isArray(table.columns)) {
		return { name: table.name as string, columns: [...(table.columns as string[])] };
	}
	const config = getTableConfig(table as SQLiteTable);
	return { name: config.name, columns: config.columns.map((c) => c.name) };
}

function parseTag(tableName: string, columns: readonly string[], template: string): Part[] {
	const where = `table "${tableName}", tag "${template}"`;
	if (template.length === 0) throw new InvalidationDeclarationError(`${where}: a tag must not be empty`);
	const parts: Part[] = [];
	let last = 0;
	for (const match of template.matchAll(PLACEHOLDER)) {
		const column = match[1] as string;
		if (column.length === 0) throw new InvalidationDeclarationError(`${where}: "{}" names no column`);
		if (!columns.includes(column)) {
			throw new InvalidationDeclarationError(
				`${where}: "{${column}}" is not a column of "${tableName}" (its columns: ${columns.join(", ")})`,
			);
		}
		if (match.index > last) parts.push({ literal: template.slice(last, match.index) });
		parts.push({ column });
		last = match.index + match[0].length;
	}
	if (last < template.length) parts.push({ literal: template.slice(last) });
	for (const part of parts) {
		if ("literal" in part && !LITERAL.test(part.literal)) {
			throw new InvalidationDeclarationError(
				`${where}: tags are printable ASCII without spaces or commas, and braces only around a column name`,
			);
		}
	}
	return parts;
}

const quoteIdent = (name: string) => `\`${name.replaceAll("`", "``")}\``;
const quoteText = (text: string) => `'${text.replaceAll("'", "''")}'`;

function tagSql(parts: readonly Part[], row: "NEW" | "OLD"): string {
	return parts
		.map((part) => ("literal" in part ? quoteText(part.literal) : `${row}.${quoteIdent(part.column)}`))
		.join(" || ");
}

function trigger(name: string, operation: string, table: string, when: string | undefined, tags: string[]): string {
	return [
		`CREATE TRIGGER ${quoteIdent(name)} AFTER ${operation} ON ${quoteIdent(table)}`,
		...(when ? [`WHEN ${when}`] : []),
		"BEGIN",
		"\tUPDATE `cache_seq` SET `value` = `value` + 1 WHERE `id` = 1;",
		"\tINSERT INTO `cache_tag_seq` (`tag`, `seq`)",
		`\t\tSELECT \`column1\`, (SELECT \`value\` FROM \`cache_seq\` WHERE \`id\` = 1) FROM (VALUES ${tags.map((t) => `(${t})`).join(", ")}) WHERE \`column1\` IS NOT NULL`,
		"\t\tON CONFLICT (`tag`) DO UPDATE SET `seq` = excluded.`seq`;",
		"END;",
	].join("\n");
}

/** The triggers of one table, by name. */
function tableTriggers(declared: CachedTable): { name: string; sql: string }[] {
	const { name: table, columns } = tableInfo(declared.table);
	if (declared.tags.length === 0) throw new InvalidationDeclarationError(`table "${table}": declare at least one tag`);
	const rules = declared.tags.map((rule) => {
		const on = rule.on ?? OPERATIONS;
		if (on.length === 0 || on.some((op) => !OPERATIONS.includes(op))) {
			throw new InvalidationDeclarationError(
				`table "${table}", tag "${rule.tag}": "on" must list insert, update or delete`,
			);
		}
		for (const column of rule.whenChanged ?? []) {
			if (!columns.includes(column)) {
				throw new InvalidationDeclarationError(
					`table "${table}", tag "${rule.tag}": whenChanged names "${column}", which is not a column of "${table}"`,
				);
			}
		}
		if (rule.whenChanged && !on.includes("update")) {
			throw new InvalidationDeclarationError(`table "${table}", tag "${rule.tag}": whenChanged needs "update" in "on"`);
		}
		return { parts: parseTag(table, columns, rule.tag), on, whenChanged: [...new Set(rule.whenChanged ?? [])] };
	});
	const unique = (tags: string[]) => [...new Set(tags)];
	const out: { name: string; sql: string }[] = [];
	for (const [operation, row] of [
		["insert", "NEW"],
		["delete", "OLD"],
	] as const) {
		const tags = unique(rules.filter((r) => r.on.includes(operation)).map((r) => tagSql(r.parts, row)));
		const name = `${table}_invalidate_${operation}`;
		if (tags.length > 0) out.push({ name, sql: trigger(name, operation.toUpperCase(), table, undefined, tags) });
	}
	// One UPDATE trigger per set of watched columns; the unconditional one first.
	const groups = new Map<string, typeof rules>();
	for (const rule of rules.filter((r) => r.on.includes("update"))) {
		const key = rule.whenChanged.join(",");
		groups.set(key, [...(groups.get(key) ?? []), rule]);
	}
	const keys = [...groups.keys()].sort((a, b) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b)));
	keys.forEach((key, i) => {
		const group = groups.get(key) ?? [];
		const tags = unique(group.flatMap((r) => [tagSql(r.parts, "OLD"), tagSql(r.parts, "NEW")]));
		const when = key === "" ? undefined : key.split(",").map((c) => `OLD.${quoteIdent(c)} IS NOT NEW.${quoteIdent(c)}`);
		const name =
			key === "" ? `${table}_invalidate_update` : `${table}_invalidate_update_${i + (keys[0] === "" ? 0 : 1)}`;
		out.push({ name, sql: trigger(name, "UPDATE", table, when?.join(" OR "), tags) });
	});
	return out;
}

/**
 * The migration that creates the invalidation triggers of the declared
 * tables: every INSERT, UPDATE and DELETE bumps the counter and sets the
 * tags it touches (old and new values alike) to the new value, in the
 * change's own transaction — so a write through any path (the API,
 * `wrangler d1 execute`, another service) is seen by the clock. One VALUES
 * list per trigger (D1 rejects compound SELECTs of more than five terms).
 * Deterministic: the same declaration gives the same bytes.
 *
 * @throws InvalidationDeclarationError for an unknown table column, an empty or malformed tag template.
 */
export function generateTriggerMigration(
	tables: readonly CachedTable[],
	options: TriggerMigrationOptions = {},
): string {
	const names = new Set<string>();
	const triggers = tables.flatMap((declared) => {
		const generated = tableTriggers(declared);
		for (const { name } of generated) {
			if (names.has(name)) throw new InvalidationDeclarationError(`trigger "${name}" would be declared twice`);
			names.add(name);
		}
		return generated;
	});
	const drops = [...new Set([...(options.replaces ?? []), ...names])].map(
		(name) => `DROP TRIGGER IF EXISTS ${quoteIdent(name)};`,
	);
	const header = [
		...(options.header ? [`-- ${options.header}`] : []),
		"-- Invalidation triggers generated by tiercache from the declaration of the cached tables.",
		"-- Do not edit: change the declaration and generate again.",
	].join("\n");
	return `${header}\n${[...drops, ...triggers.map((t) => t.sql)].join("\n--> statement-breakpoint\n")}\n`;
}
