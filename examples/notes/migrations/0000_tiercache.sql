-- The engine's tables (tiercache/migrations: ENGINE_MIGRATION_SQL). Apply before your app's own migrations.
CREATE TABLE `cache_seq` (
	`id` integer PRIMARY KEY NOT NULL,
	`value` integer NOT NULL,
	CONSTRAINT "cache_seq_single_row" CHECK("cache_seq"."id" = 1)
);
--> statement-breakpoint
INSERT INTO `cache_seq` (`id`, `value`) VALUES (1, 0);
--> statement-breakpoint
CREATE TABLE `cache_tag_seq` (
	`tag` text PRIMARY KEY NOT NULL,
	`seq` integer NOT NULL,
	`handled_seq` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX `cache_tag_seq_seq_idx` ON `cache_tag_seq` (`seq`);
--> statement-breakpoint
CREATE INDEX `cache_tag_seq_unhandled_idx` ON `cache_tag_seq` (`seq`) WHERE `seq` > `handled_seq`;
--> statement-breakpoint
CREATE TABLE `cache_state` (
	`name` text PRIMARY KEY NOT NULL,
	`value` integer NOT NULL
);
--> statement-breakpoint
INSERT INTO `cache_state` (`name`, `value`) VALUES ('floor', 0);
--> statement-breakpoint
CREATE TABLE `webhook_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`response` text NOT NULL,
	`received_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `webhook_deliveries_received_idx` ON `webhook_deliveries` (`received_at`);
