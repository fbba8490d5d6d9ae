CREATE TABLE `cache_seq` (
	`id` integer PRIMARY KEY NOT NULL,
	`value` integer NOT NULL,
	CONSTRAINT "cache_seq_single_row" CHECK("cache_seq"."id" = 1)
);
--> statement-breakpoint
CREATE TABLE `cache_tag_seq` (
	`tag` text PRIMARY KEY NOT NULL,
	`seq` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `cache_tag_seq_seq_idx` ON `cache_tag_seq` (`seq`);