import { defineConfig } from "drizzle-kit";

// `npm run db:generate` writes flat NNNN_name.sql files into migrations/,
// the layout `wrangler d1 migrations apply` and `readD1Migrations` read.
export default defineConfig({
	dialect: "sqlite",
	schema: ["./src/db/schema.ts", "./packages/tiercache/src/schema.ts", "./packages/tiercache/src/webhook/schema.ts"],
	out: "./migrations",
	migrations: { prefix: "index" },
});
