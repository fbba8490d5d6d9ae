-- Hand-written: drizzle-kit cannot express triggers.
-- Any UPDATE that does not set updated_at itself (a raw `wrangler d1 execute`,
-- another service) still moves it, so clients and caches can tell versions
-- apart. Recursive triggers are off in SQLite, so the inner UPDATE does not
-- fire these triggers again.
CREATE TRIGGER `products_touch_updated_at` AFTER UPDATE ON `products`
WHEN NEW.`updated_at` = OLD.`updated_at`
BEGIN
	UPDATE `products` SET `updated_at` = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE `id` = NEW.`id`;
END;
--> statement-breakpoint
CREATE TRIGGER `categories_touch_updated_at` AFTER UPDATE ON `categories`
WHEN NEW.`updated_at` = OLD.`updated_at`
BEGIN
	UPDATE `categories` SET `updated_at` = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE `id` = NEW.`id`;
END;
