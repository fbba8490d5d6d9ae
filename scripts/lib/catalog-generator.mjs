// Deterministic catalog generator: the same seed and sizes give the same rows,
// byte for byte, on every machine (no Date.now, no Math.random).

/** sfc32, seeded from a string through a 128-bit FNV-style mix. */
export function createRandom(seed) {
	let h1 = 0x811c9dc5;
	let h2 = 0x01000193;
	let h3 = 0x9e3779b9;
	let h4 = 0x85ebca6b;
	for (const ch of String(seed)) {
		const k = ch.codePointAt(0) ?? 0;
		h1 = Math.imul(h1 ^ k, 0x01000193);
		h2 = Math.imul(h2 ^ k, 0x5bd1e995);
		h3 = Math.imul(h3 ^ k, 0x27d4eb2d);
		h4 = Math.imul(h4 ^ k, 0x165667b1);
	}
	let a = h1 >>> 0;
	let b = h2 >>> 0;
	let c = h3 >>> 0;
	let d = h4 >>> 0;
	const next = () => {
		a >>>= 0;
		b >>>= 0;
		c >>>= 0;
		d >>>= 0;
		const t = (a + b) | 0;
		a = b ^ (b >>> 9);
		b = (c + (c << 3)) | 0;
		c = (c << 21) | (c >>> 11);
		d = (d + 1) | 0;
		const r = (t + d) | 0;
		c = (c + r) | 0;
		return (r >>> 0) / 4294967296;
	};
	for (let i = 0; i < 16; i++) next();
	return {
		next,
		int: (min, max) => min + Math.floor(next() * (max - min + 1)),
		pick: (list) => list[Math.floor(next() * list.length)],
		/** Standard normal (Box-Muller). */
		normal: () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()),
	};
}

const CATEGORY_NAMES = [
	"Kitchen",
	"Garden",
	"Outdoor",
	"Office",
	"Lighting",
	"Bath",
	"Bedroom",
	"Toys",
	"Books",
	"Music",
	"Audio",
	"Cameras",
	"Computers",
	"Phones",
	"Fitness",
	"Cycling",
	"Camping",
	"Travel",
	"Pets",
	"Baby",
	"Crafts",
	"Tools",
	"Automotive",
	"Beauty",
	"Grocery",
	"Coffee",
	"Tea",
	"Stationery",
	"Games",
	"Decor",
];
const ADJECTIVES = [
	"Classic",
	"Compact",
	"Deluxe",
	"Everyday",
	"Heavy-duty",
	"Lightweight",
	"Modern",
	"Portable",
	"Premium",
	"Rustic",
	"Sleek",
	"Smart",
	"Sturdy",
	"Vintage",
	"Wireless",
	"Handmade",
	"Foldable",
	"Quiet",
	"Rugged",
	"Tiny",
];
const MATERIALS = [
	"Oak",
	"Steel",
	"Ceramic",
	"Bamboo",
	"Copper",
	"Linen",
	"Wool",
	"Glass",
	"Walnut",
	"Aluminium",
	"Cotton",
	"Leather",
	"Granite",
	"Cork",
	"Titanium",
];
const NOUNS = [
	"Pan",
	"Lamp",
	"Chair",
	"Desk",
	"Kettle",
	"Backpack",
	"Speaker",
	"Notebook",
	"Bottle",
	"Blanket",
	"Planter",
	"Headphones",
	"Tent",
	"Mug",
	"Clock",
	"Shelf",
	"Jacket",
	"Grinder",
	"Board",
	"Basket",
	"Bench",
	"Frame",
];
const PHRASES = [
	"Built to last",
	"Designed for daily use",
	"Easy to clean",
	"Ships flat",
	"Made in small batches",
	"Tested for years",
	"Fits small spaces",
	"A customer favourite",
	"Comes with a two-year warranty",
	"Refined over many versions",
];
const TITLES = [
	"Love it",
	"Does the job",
	"Great value",
	"Not for me",
	"Solid",
	"Exceeded expectations",
	"Okay",
	"Broke quickly",
	"Would buy again",
	"Perfect gift",
];
const AUTHORS = [
	"alex",
	"sam",
	"kim",
	"jordan",
	"taylor",
	"riley",
	"casey",
	"morgan",
	"jamie",
	"robin",
	"quinn",
	"avery",
];

const BASE_TIME = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;

function slugify(text) {
	return text
		.toLowerCase()
		.replace(/[^a-z0-9]+/g, "-")
		.replace(/^-+|-+$/g, "");
}

/**
 * The rows of a catalog. Products get ids 1..products; the rating summary on
 * each product agrees with its reviews.
 */
export function generateCatalog({
	seed = "tiercache",
	categories = 24,
	products = 10_000,
	reviews = products * 5,
} = {}) {
	const random = createRandom(seed);
	const categoryRows = [];
	for (let i = 1; i <= categories; i++) {
		const base = CATEGORY_NAMES[(i - 1) % CATEGORY_NAMES.length];
		const round = Math.floor((i - 1) / CATEGORY_NAMES.length);
		const name = round === 0 ? base : `${base} ${round + 1}`;
		const at = new Date(BASE_TIME - (400 - i) * DAY).toISOString();
		categoryRows.push({
			id: i,
			slug: slugify(name),
			name,
			description: `${name}: ${random.pick(PHRASES).toLowerCase()}.`,
			createdAt: at,
			updatedAt: at,
		});
	}

	const productRows = [];
	const quality = [];
	for (let id = 1; id <= products; id++) {
		const name = `${random.pick(ADJECTIVES)} ${random.pick(MATERIALS)} ${random.pick(NOUNS)}`;
		const at = new Date(BASE_TIME - random.int(0, 365 * DAY)).toISOString();
		productRows.push({
			id,
			sku: `TC-${String(id).padStart(6, "0")}`,
			slug: `${slugify(name)}-${id}`,
			name,
			description: `${random.pick(PHRASES)}. ${random.pick(PHRASES)}.`,
			priceCents: Math.max(99, Math.round(Math.exp(7 + random.normal() * 1.1)) * 10 - 1),
			currency: "USD",
			categoryId: random.int(1, categories),
			stock: random.int(0, 500),
			ratingCount: 0,
			ratingSum: 0,
			ratingAverage: 0,
			createdAt: at,
			updatedAt: at,
		});
		quality.push(1.5 + random.next() * 3.5);
	}

	const reviewRows = [];
	for (let id = 1; id <= reviews && products > 0; id++) {
		// Popular products collect most reviews (a skew, like real catalogs).
		const productId = 1 + Math.floor(products * random.next() ** 2);
		const product = productRows[productId - 1];
		const rating = Math.min(5, Math.max(1, Math.round((quality[productId - 1] ?? 3) + random.normal() * 0.8)));
		const at = new Date(Date.parse(product.createdAt) + (random.int(1, 300) * DAY) / 10).toISOString();
		reviewRows.push({
			id,
			productId,
			rating,
			title: random.pick(TITLES),
			body: `${random.pick(PHRASES)}.`,
			author: random.pick(AUTHORS),
			createdAt: at,
		});
		product.ratingCount += 1;
		product.ratingSum += rating;
	}
	for (const product of productRows) {
		product.ratingAverage = product.ratingCount ? Math.round((product.ratingSum / product.ratingCount) * 100) / 100 : 0;
	}
	return { categories: categoryRows, products: productRows, reviews: reviewRows };
}

const COLUMNS = {
	categories: [
		["id", "id"],
		["slug", "slug"],
		["name", "name"],
		["description", "description"],
		["created_at", "createdAt"],
		["updated_at", "updatedAt"],
	],
	products: [
		["id", "id"],
		["sku", "sku"],
		["slug", "slug"],
		["name", "name"],
		["description", "description"],
		["price_cents", "priceCents"],
		["currency", "currency"],
		["category_id", "categoryId"],
		["stock", "stock"],
		["rating_count", "ratingCount"],
		["rating_sum", "ratingSum"],
		["rating_average", "ratingAverage"],
		["created_at", "createdAt"],
		["updated_at", "updatedAt"],
	],
	reviews: [
		["id", "id"],
		["product_id", "productId"],
		["rating", "rating"],
		["title", "title"],
		["body", "body"],
		["author", "author"],
		["created_at", "createdAt"],
	],
};

function literal(value) {
	if (typeof value === "number") return String(value);
	return `'${String(value).replaceAll("'", "''")}'`;
}

/**
 * Multi-row INSERT statements for a table, each under D1's 100 KB statement
 * limit, in id order.
 */
export function insertStatements(table, rows, maxBytes = 90_000) {
	const columns = COLUMNS[table];
	const head = `INSERT INTO ${table} (${columns.map(([c]) => c).join(", ")}) VALUES `;
	const statements = [];
	let values = [];
	let size = head.length;
	for (const row of rows) {
		const tuple = `(${columns.map(([, key]) => literal(row[key])).join(", ")})`;
		if (values.length > 0 && size + tuple.length + 2 > maxBytes) {
			statements.push(`${head}${values.join(", ")}`);
			values = [];
			size = head.length;
		}
		values.push(tuple);
		size += tuple.length + 2;
	}
	if (values.length > 0) statements.push(`${head}${values.join(", ")}`);
	return statements;
}
