import { generateCatalog, insertStatements } from "./catalog-generator.mjs";

const STATEMENTS_PER_BATCH = 8;

export async function countProducts(db) {
	const row = await db.prepare("SELECT count(*) AS n FROM products").first();
	return Number(row?.n ?? 0);
}

/** Loads a generated catalog into `db`, printing progress per table. */
export async function seedCatalog(db, options, log = console.log) {
	const started = performance.now();
	const catalog = generateCatalog(options);
	log(
		`seed: generated ${catalog.categories.length} categories, ${catalog.products.length} products, ` +
			`${catalog.reviews.length} reviews (seed "${options.seed}") in ${Math.round(performance.now() - started)} ms`,
	);
	const counterBefore = Number((await db.prepare("SELECT value FROM cache_seq WHERE id = 1").first())?.value ?? 0);
	if (options.reset) {
		// Children first: reviews reference products, products reference categories.
		await db.batch([
			db.prepare("DELETE FROM reviews"),
			db.prepare("DELETE FROM products"),
			db.prepare("DELETE FROM categories"),
		]);
		log("seed: removed the existing catalog (--reset)");
	}
	for (const table of ["categories", "products", "reviews"]) {
		const rows = catalog[table];
		const statements = insertStatements(table, rows);
		let done = 0;
		for (let i = 0; i < statements.length; i += STATEMENTS_PER_BATCH) {
			const chunk = statements.slice(i, i + STATEMENTS_PER_BATCH);
			await db.batch(chunk.map((sql) => db.prepare(sql)));
			done = Math.min(rows.length, Math.round((rows.length * (i + chunk.length)) / statements.length));
			log(`seed: ${table} ${done}/${rows.length}`);
		}
	}
	if (!options.reset) {
		// Nothing could have been cached before the first seed: its trigger bumps
		// need no edge purge, so the cron does not find 60,000 of them to sweep.
		// A --reset leaves them for the cron, which purges the edge of the old catalog.
		await db.prepare("UPDATE cache_tag_seq SET handled_seq = seq WHERE seq > ?1").bind(counterBefore).run();
	}
	const seconds = ((performance.now() - started) / 1000).toFixed(1);
	log(`seed: done in ${seconds} s`);
	return catalog;
}
