-- Hand-written: the engine's single invalidation counter starts at 0.
INSERT INTO `cache_seq` (`id`, `value`) VALUES (1, 0);
