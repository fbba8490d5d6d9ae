-- Hand-written: narrower invalidation on product UPDATE.
-- Every update bumps the product. Listings (`products`) are bumped only when
-- an update can change which products a page holds or their order: a sort
-- key (created_at, name, price_cents, rating_average), the id or the
-- category. Categories are bumped only when a product moves between them.
-- A change of stock or description no longer empties every listing and every
-- cached product of its category; pages that show the product still carry
-- its `product:<id>` tag.
DROP TRIGGER `products_invalidate_update`;
--> statement-breakpoint
CREATE TRIGGER `products_invalidate_update_row` AFTER UPDATE ON `products`
BEGIN
	UPDATE `cache_seq` SET `value` = `value` + 1 WHERE `id` = 1;
	INSERT INTO `cache_tag_seq` (`tag`, `seq`)
		SELECT `column1`, (SELECT `value` FROM `cache_seq` WHERE `id` = 1) FROM (VALUES ('product:' || OLD.`id`), ('product:' || NEW.`id`)) WHERE true
		ON CONFLICT (`tag`) DO UPDATE SET `seq` = excluded.`seq`;
END;
--> statement-breakpoint
CREATE TRIGGER `products_invalidate_update_listings` AFTER UPDATE ON `products`
WHEN OLD.`id` IS NOT NEW.`id` OR OLD.`created_at` IS NOT NEW.`created_at` OR OLD.`name` IS NOT NEW.`name` OR OLD.`price_cents` IS NOT NEW.`price_cents` OR OLD.`rating_average` IS NOT NEW.`rating_average` OR OLD.`category_id` IS NOT NEW.`category_id`
BEGIN
	UPDATE `cache_seq` SET `value` = `value` + 1 WHERE `id` = 1;
	INSERT INTO `cache_tag_seq` (`tag`, `seq`)
		SELECT `column1`, (SELECT `value` FROM `cache_seq` WHERE `id` = 1) FROM (VALUES ('products')) WHERE true
		ON CONFLICT (`tag`) DO UPDATE SET `seq` = excluded.`seq`;
END;
--> statement-breakpoint
CREATE TRIGGER `products_invalidate_update_category` AFTER UPDATE ON `products`
WHEN OLD.`category_id` IS NOT NEW.`category_id`
BEGIN
	UPDATE `cache_seq` SET `value` = `value` + 1 WHERE `id` = 1;
	INSERT INTO `cache_tag_seq` (`tag`, `seq`)
		SELECT `column1`, (SELECT `value` FROM `cache_seq` WHERE `id` = 1) FROM (VALUES ('category:' || OLD.`category_id`), ('category:' || NEW.`category_id`)) WHERE true
		ON CONFLICT (`tag`) DO UPDATE SET `seq` = excluded.`seq`;
END;
