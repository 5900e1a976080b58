-- Kilo's database `~/.local/share/kilo/kilo.db`: Kilo is a fork of OpenCode and writes
-- OpenCode's schema (its session table adds two columns). Build it with
-- `sqlite3 kilo.db < kilo.sql`.
--
-- One answer through the Kilo Gateway (provider "kilo", OpenRouter-style model names),
-- one through OpenRouter written by an older version, whose `output` still held the
-- reasoning (its `total` is input + output).
PRAGMA journal_mode = WAL;

CREATE TABLE `session` (
	`id` text PRIMARY KEY,
	`project_id` text NOT NULL,
	`workspace_id` text,
	`parent_id` text,
	`slug` text NOT NULL,
	`directory` text NOT NULL,
	`title` text NOT NULL,
	`version` text NOT NULL,
	`share_url` text,
	`summary_additions` integer,
	`summary_deletions` integer,
	`summary_files` integer,
	`summary_diffs` text,
	`revert` text,
	`permission` text,
	`current_state` text,
	`recent_progress` text,
	`time_created` integer NOT NULL,
	`time_updated` integer NOT NULL,
	`time_compacting` integer,
	`time_archived` integer
);
CREATE TABLE `message` (
	`id` text PRIMARY KEY,
	`session_id` text NOT NULL,
	`time_created` integer NOT NULL,
	`time_updated` integer NOT NULL,
	`data` text NOT NULL,
	CONSTRAINT `fk_message_session_id_session_id_fk` FOREIGN KEY (`session_id`) REFERENCES `session`(`id`) ON DELETE CASCADE
);
CREATE TABLE `part` (
	`id` text PRIMARY KEY,
	`message_id` text NOT NULL,
	`session_id` text NOT NULL,
	`time_created` integer NOT NULL,
	`time_updated` integer NOT NULL,
	`data` text NOT NULL,
	CONSTRAINT `fk_part_message_id_message_id_fk` FOREIGN KEY (`message_id`) REFERENCES `message`(`id`) ON DELETE CASCADE
);
CREATE INDEX `message_session_time_created_id_idx` ON `message` (`session_id`,`time_created`,`id`);
CREATE INDEX `part_message_id_id_idx` ON `part` (`message_id`,`id`);
CREATE INDEX `part_session_idx` ON `part` (`session_id`);

INSERT INTO session VALUES ('ses_531a0f22effeKiloGw7Ab8Cd9E', 'global', NULL, NULL, 'brave-lynx', '/home/user/api', 'Add rate limiting', '1.0.12', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1795428000000, 1795428061000, NULL, NULL);

INSERT INTO message VALUES ('msg_531a0f230001KiloGw7Ab8Cd9E', 'ses_531a0f22effeKiloGw7Ab8Cd9E', 1795428000000, 1795428000000,
 '{"role":"user","time":{"created":1795428000000},"agent":"code","model":{"providerID":"kilo","modelID":"anthropic/claude-sonnet-4.5"}}');
INSERT INTO message VALUES ('msg_531a0f238001KiloGw7Ab8Cd9E', 'ses_531a0f22effeKiloGw7Ab8Cd9E', 1795428002000, 1795428061000,
 '{"role":"assistant","time":{"created":1795428002000,"completed":1795428061000},"parentID":"msg_531a0f230001KiloGw7Ab8Cd9E","modelID":"anthropic/claude-sonnet-4.5","providerID":"kilo","mode":"code","agent":"code","path":{"cwd":"/home/user/api","root":"/home/user/api"},"cost":0.017349,"tokens":{"input":8,"output":420,"reasoning":0,"cache":{"read":18000,"write":1500}},"finish":"stop"}');
INSERT INTO part VALUES ('prt_531a0f238002KiloGw7Ab8Cd9E', 'msg_531a0f238001KiloGw7Ab8Cd9E', 'ses_531a0f22effeKiloGw7Ab8Cd9E', 1795428061000, 1795428061000,
 '{"reason":"stop","snapshot":"3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b","type":"step-finish","tokens":{"input":8,"output":420,"reasoning":0,"cache":{"read":18000,"write":1500}},"cost":0.017349}');

INSERT INTO message VALUES ('msg_5305b7d10001OldRouter1Ab2C', 'ses_531a0f22effeKiloGw7Ab8Cd9E', 1795545600000, 1795545622000,
 '{"role":"assistant","time":{"created":1795545600000,"completed":1795545622000},"parentID":"msg_5305b7d00001OldRouter1Ab2C","modelID":"openai/o4-mini","providerID":"openrouter","mode":"code","agent":"code","path":{"cwd":"/home/user/api","root":"/home/user/api"},"cost":0.00649,"tokens":{"total":2600,"input":1500,"output":1100,"reasoning":700,"cache":{"read":0,"write":0}},"finish":"stop"}');
INSERT INTO part VALUES ('prt_5305b7d10002OldRouter1Ab2C', 'msg_5305b7d10001OldRouter1Ab2C', 'ses_531a0f22effeKiloGw7Ab8Cd9E', 1795545622000, 1795545622000,
 '{"reason":"stop","snapshot":"3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b","type":"step-finish","tokens":{"total":2600,"input":1500,"output":1100,"reasoning":700,"cache":{"read":0,"write":0}},"cost":0.00649}');
