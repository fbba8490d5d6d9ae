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
	const seconds = ((performance.now() - started) / 1000).toFixed(1);
	log(`seed: done in ${seconds} s`);
	return catalog;
}
