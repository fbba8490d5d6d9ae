-- Hand-written: drizzle-kit cannot express triggers.
-- Every INSERT, UPDATE or DELETE on a cached table bumps the invalidation
-- counter and sets every tag the change touches (old and new values alike)
-- to the new value, in the same transaction as the change. A write through
-- the admin API, `wrangler d1 execute` or any other path is covered; the
-- cron publishes bumps nobody published (cache_tag_seq.seq > handled_seq).
-- One VALUES list per trigger: D1 rejects compound SELECTs of more than 5 terms.
INSERT INTO `cache_state` (`name`, `value`) VALUES ('floor', 0);
--> statement-breakpoint
CREATE INDEX `cache_tag_seq_unhandled_idx` ON `cache_tag_seq` (`seq`) WHERE `seq` > `handled_seq`;
--> statement-breakpoint
CREATE TRIGGER `categories_invalidate_insert` AFTER INSERT ON `categories`
BEGIN
	UPDATE `cache_seq` SET `value` = `value` + 1 WHERE `id` = 1;
	INSERT INTO `cache_tag_seq` (`tag`, `seq`)
		SELECT `column1`, (SELECT `value` FROM `cache_seq` WHERE `id` = 1) FROM (VALUES ('categories'), ('category:' || NEW.`id`)) WHERE true
		ON CONFLICT (`tag`) DO UPDATE SET `seq` = excluded.`seq`;
END;
--> statement-breakpoint
CREATE TRIGGER `categories_invalidate_update` AFTER UPDATE ON `categories`
BEGIN
	UPDATE `cache_seq` SET `value` = `value` + 1 WHERE `id` = 1;
	INSERT INTO `cache_tag_seq` (`tag`, `seq`)
		SELECT `column1`, (SELECT `value` FROM `cache_seq` WHERE `id` = 1) FROM (VALUES ('categories'), ('category:' || OLD.`id`), ('category:' || NEW.`id`)) WHERE true
		ON CONFLICT (`tag`) DO UPDATE SET `seq` = excluded.`seq`;
END;
--> statement-breakpoint
CREATE TRIGGER `categories_invalidate_delete` AFTER DELETE ON `categories`
BEGIN
	UPDATE `cache_seq` SET `value` = `value` + 1 WHERE `id` = 1;
	INSERT INTO `cache_tag_seq` (`tag`, `seq`)
		SELECT `column1`, (SELECT `value` FROM `cache_seq` WHERE `id` = 1) FROM (VALUES ('categories'), ('category:' || OLD.`id`)) WHERE true
		ON CONFLICT (`tag`) DO UPDATE SET `seq` = excluded.`seq`;
END;
--> statement-breakpoint
CREATE TRIGGER `products_invalidate_insert` AFTER INSERT ON `products`
BEGIN
	UPDATE `cache_seq` SET `value` = `value` + 1 WHERE `id` = 1;
	INSERT INTO `cache_tag_seq` (`tag`, `seq`)
		SELECT `column1`, (SELECT `value` FROM `cache_seq` WHERE `id` = 1) FROM (VALUES ('products'), ('product:' || NEW.`id`), ('category:' || NEW.`category_id`)) WHERE true
		ON CONFLICT (`tag`) DO UPDATE SET `seq` = excluded.`seq`;
END;
--> statement-breakpoint
CREATE TRIGGER `products_invalidate_update` AFTER UPDATE ON `products`
BEGIN
	UPDATE `cache_seq` SET `value` = `value` + 1 WHERE `id` = 1;
	INSERT INTO `cache_tag_seq` (`tag`, `seq`)
		SELECT `column1`, (SELECT `value` FROM `cache_seq` WHERE `id` = 1) FROM (VALUES ('products'), ('product:' || OLD.`id`), ('product:' || NEW.`id`), ('category:' || OLD.`category_id`), ('category:' || NEW.`category_id`)) WHERE true
		ON CONFLICT (`tag`) DO UPDATE SET `seq` = excluded.`seq`;
END;
--> statement-breakpoint
CREATE TRIGGER `products_invalidate_delete` AFTER DELETE ON `products`
BEGIN
	UPDATE `cache_seq` SET `value` = `value` + 1 WHERE `id` = 1;
	INSERT INTO `cache_tag_seq` (`tag`, `seq`)
		SELECT `column1`, (SELECT `value` FROM `cache_seq` WHERE `id` = 1) FROM (VALUES ('products'), ('product:' || OLD.`id`), ('category:' || OLD.`category_id`), ('reviews:product:' || OLD.`id`)) WHERE true
		ON CONFLICT (`tag`) DO UPDATE SET `seq` = excluded.`seq`;
END;
--> statement-breakpoint
CREATE TRIGGER `reviews_invalidate_insert` AFTER INSERT ON `reviews`
BEGIN
	UPDATE `cache_seq` SET `value` = `value` + 1 WHERE `id` = 1;
	INSERT INTO `cache_tag_seq` (`tag`, `seq`)
		SELECT `column1`, (SELECT `value` FROM `cache_seq` WHERE `id` = 1) FROM (VALUES ('product:' || NEW.`product_id`), ('reviews:product:' || NEW.`product_id`)) WHERE true
		ON CONFLICT (`tag`) DO UPDATE SET `seq` = excluded.`seq`;
END;
--> statement-breakpoint
CREATE TRIGGER `reviews_invalidate_update` AFTER UPDATE ON `reviews`
BEGIN
	UPDATE `cache_seq` SET `value` = `value` + 1 WHERE `id` = 1;
	INSERT INTO `cache_tag_seq` (`tag`, `seq`)
		SELECT `column1`, (SELECT `value` FROM `cache_seq` WHERE `id` = 1) FROM (VALUES ('product:' || OLD.`product_id`), ('reviews:product:' || OLD.`product_id`), ('product:' || NEW.`product_id`), ('reviews:product:' || NEW.`product_id`)) WHERE true
		ON CONFLICT (`tag`) DO UPDATE SET `seq` = excluded.`seq`;
END;
--> statement-breakpoint
CREATE TRIGGER `reviews_invalidate_delete` AFTER DELETE ON `reviews`
BEGIN
	UPDATE `cache_seq` SET `value` = `value` + 1 WHERE `id` = 1;
	INSERT INTO `cache_tag_seq` (`tag`, `seq`)
		SELECT `column1`, (SELECT `value` FROM `cache_seq` WHERE `id` = 1) FROM (VALUES ('product:' || OLD.`product_id`), ('reviews:product:' || OLD.`product_id`)) WHERE true
		ON CONFLICT (`tag`) DO UPDATE SET `seq` = excluded.`seq`;
END;
