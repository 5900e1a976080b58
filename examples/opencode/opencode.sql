-- OpenCode's database `~/.local/share/opencode/opencode.db`, as OpenCode writes it: the
-- schema of its drizzle migrations (project, session, message, part) and one morning of
-- work. Build it with `sqlite3 opencode.db < opencode.sql` (the tests do the same).
--
-- Session ses_52f1…: the user asks, Claude Sonnet 4.5 answers in two steps (a grep, then
-- the answer); each step leaves a `step-finish` part with that API call's tokens and
-- cost, while the message keeps the LAST step's tokens and the SUM of the costs. A second
-- question goes to GPT-5 (cost 0: a ChatGPT subscription), and a third answer is still
-- streaming (tokens 0, no step finished). The task tool ran a subagent in session
-- ses_52f1c02e… (Claude Haiku 4.5, one step).
PRAGMA journal_mode = WAL;

CREATE TABLE `project` (
	`id` text PRIMARY KEY,
	`worktree` text NOT NULL,
	`vcs` text,
	`name` text,
	`icon_url` text,
	`icon_color` text,
	`time_created` integer NOT NULL,
	`time_updated` integer NOT NULL,
	`time_initialized` integer,
	`sandboxes` text NOT NULL
);
CREATE TABLE `session` (
	`id` text PRIMARY KEY,
	`project_id` text NOT NULL,
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
	`time_created` integer NOT NULL,
	`time_updated` integer NOT NULL,
	`time_compacting` integer,
	`time_archived` integer,
	CONSTRAINT `fk_session_project_id_project_id_fk` FOREIGN KEY (`project_id`) REFERENCES `project`(`id`) ON DELETE CASCADE
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
CREATE INDEX `session_project_idx` ON `session` (`project_id`);
CREATE INDEX `session_parent_idx` ON `session` (`parent_id`);
CREATE INDEX `message_session_time_created_id_idx` ON `message` (`session_id`,`time_created`,`id`);
CREATE INDEX `part_message_id_id_idx` ON `part` (`message_id`,`id`);
CREATE INDEX `part_session_idx` ON `part` (`session_id`);

INSERT INTO project VALUES ('5e1f0c3b9a7d4e2f8c6b1a0d9e8f7c6b5a4d3e2f', '/home/user/webapp', 'git', NULL, NULL, NULL, 1795252440000, 1795252440000, 1795252440000, '[]');
INSERT INTO session VALUES ('ses_52f1c0a3dffeYq8Lm2Nc4Vb7Xz', '5e1f0c3b9a7d4e2f8c6b1a0d9e8f7c6b5a4d3e2f', NULL, 'calm-otter', '/home/user/webapp', 'Fix the flaky upload test', '1.0.107', NULL, 12, 3, 1, NULL, NULL, NULL, 1795252443000, 1795363320000, NULL, NULL);
INSERT INTO session VALUES ('ses_52f1c02e6ffeK3jH9sT5wQ1pRa', '5e1f0c3b9a7d4e2f8c6b1a0d9e8f7c6b5a4d3e2f', 'ses_52f1c0a3dffeYq8Lm2Nc4Vb7Xz', 'quick-heron', '/home/user/webapp', 'Find the upload handlers (@general subagent)', '1.0.107', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1795252500000, 1795252520000, NULL, NULL);

-- The first question and its two-step answer.
INSERT INTO message VALUES ('msg_52f1c0a40001Aa1Bb2Cc3Dd4Ee', 'ses_52f1c0a3dffeYq8Lm2Nc4Vb7Xz', 1795252443000, 1795252443000,
 '{"role":"user","time":{"created":1795252443000},"agent":"build","model":{"providerID":"anthropic","modelID":"claude-sonnet-4-5"}}');
INSERT INTO part VALUES ('prt_52f1c0a40002Aa1Bb2Cc3Dd4Ee', 'msg_52f1c0a40001Aa1Bb2Cc3Dd4Ee', 'ses_52f1c0a3dffeYq8Lm2Nc4Vb7Xz', 1795252443000, 1795252443000,
 '{"type":"text","text":"test_upload_retries fails one run in five; find out why"}');
INSERT INTO message VALUES ('msg_52f1c0a48001Ff5Gg6Hh7Ii8Jj', 'ses_52f1c0a3dffeYq8Lm2Nc4Vb7Xz', 1795252445000, 1795252484000,
 '{"role":"assistant","time":{"created":1795252445000,"completed":1795252484000},"parentID":"msg_52f1c0a40001Aa1Bb2Cc3Dd4Ee","modelID":"claude-sonnet-4-5","providerID":"anthropic","mode":"build","agent":"build","path":{"cwd":"/home/user/webapp","root":"/home/user/webapp"},"cost":0.064905,"tokens":{"input":12,"output":310,"reasoning":0,"cache":{"read":14200,"write":380}},"finish":"stop"}');
INSERT INTO part VALUES ('prt_52f1c0a48002Ff5Gg6Hh7Ii8Jj', 'msg_52f1c0a48001Ff5Gg6Hh7Ii8Jj', 'ses_52f1c0a3dffeYq8Lm2Nc4Vb7Xz', 1795252445000, 1795252445000,
 '{"snapshot":"8f2c1d0e9b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d","type":"step-start"}');
INSERT INTO part VALUES ('prt_52f1c0a48003Ff5Gg6Hh7Ii8Jj', 'msg_52f1c0a48001Ff5Gg6Hh7Ii8Jj', 'ses_52f1c0a3dffeYq8Lm2Nc4Vb7Xz', 1795252447000, 1795252452000,
 '{"type":"tool","callID":"toolu_01Grep7Hn2Vq","tool":"grep","state":{"status":"completed","input":{"pattern":"step-finish","path":"tests"},"output":"No files found","title":"step-finish","metadata":{"matches":0},"time":{"start":1795252448000,"end":1795252452000}}}');
INSERT INTO part VALUES ('prt_52f1c0a48004Ff5Gg6Hh7Ii8Jj', 'msg_52f1c0a48001Ff5Gg6Hh7Ii8Jj', 'ses_52f1c0a3dffeYq8Lm2Nc4Vb7Xz', 1795252452000, 1795252452000,
 '{"reason":"tool-calls","snapshot":"8f2c1d0e9b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d","type":"step-finish","tokens":{"input":3,"output":85,"reasoning":0,"cache":{"read":0,"write":14200}},"cost":0.054534}');
INSERT INTO part VALUES ('prt_52f1c0a48005Ff5Gg6Hh7Ii8Jj', 'msg_52f1c0a48001Ff5Gg6Hh7Ii8Jj', 'ses_52f1c0a3dffeYq8Lm2Nc4Vb7Xz', 1795252453000, 1795252453000,
 '{"snapshot":"8f2c1d0e9b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d","type":"step-start"}');
INSERT INTO part VALUES ('prt_52f1c0a48006Ff5Gg6Hh7Ii8Jj', 'msg_52f1c0a48001Ff5Gg6Hh7Ii8Jj', 'ses_52f1c0a3dffeYq8Lm2Nc4Vb7Xz', 1795252454000, 1795252484000,
 '{"type":"text","text":"The retry loop reuses the same temp file; the second attempt reads a half-written upload.","time":{"start":1795252454000,"end":1795252484000}}');
INSERT INTO part VALUES ('prt_52f1c0a48007Ff5Gg6Hh7Ii8Jj', 'msg_52f1c0a48001Ff5Gg6Hh7Ii8Jj', 'ses_52f1c0a3dffeYq8Lm2Nc4Vb7Xz', 1795252484000, 1795252484000,
 '{"reason":"stop","snapshot":"8f2c1d0e9b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d","type":"step-finish","tokens":{"input":12,"output":310,"reasoning":0,"cache":{"read":14200,"write":380}},"cost":0.010371}');

-- The subagent the task tool started, in its own session.
INSERT INTO message VALUES ('msg_52f1c0b2c001Zz1Aa2Bb3Cc4Dd', 'ses_52f1c02e6ffeK3jH9sT5wQ1pRa', 1795252502000, 1795252520000,
 '{"role":"assistant","time":{"created":1795252502000,"completed":1795252520000},"parentID":"msg_52f1c0b2b001Zz1Aa2Bb3Cc4Dd","modelID":"claude-haiku-4-5","providerID":"anthropic","mode":"general","agent":"general","path":{"cwd":"/home/user/webapp","root":"/home/user/webapp"},"cost":0.00085,"tokens":{"input":40,"output":120,"reasoning":0,"cache":{"read":2100,"write":0}},"finish":"stop"}');
INSERT INTO part VALUES ('prt_52f1c0b2c002Zz1Aa2Bb3Cc4Dd', 'msg_52f1c0b2c001Zz1Aa2Bb3Cc4Dd', 'ses_52f1c02e6ffeK3jH9sT5wQ1pRa', 1795252520000, 1795252520000,
 '{"reason":"stop","snapshot":"8f2c1d0e9b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d","type":"step-finish","tokens":{"input":40,"output":120,"reasoning":0,"cache":{"read":2100,"write":0}},"cost":0.00085}');

-- A second question, to GPT-5 through a ChatGPT subscription: OpenCode writes cost 0.
-- Current versions keep the reasoning out of `output` and write the call's `total`.
INSERT INTO message VALUES ('msg_52f1c1f0a001Kk9Ll0Mm1Nn2Oo', 'ses_52f1c0a3dffeYq8Lm2Nc4Vb7Xz', 1795252810000, 1795252810000,
 '{"role":"user","time":{"created":1795252810000},"agent":"build","model":{"providerID":"openai","modelID":"gpt-5"}}');
INSERT INTO message VALUES ('msg_52f1c1f0d001Pp3Qq4Rr5Ss6Tt', 'ses_52f1c0a3dffeYq8Lm2Nc4Vb7Xz', 1795252812000, 1795252831000,
 '{"role":"assistant","time":{"created":1795252812000,"completed":1795252831000},"parentID":"msg_52f1c1f0a001Kk9Ll0Mm1Nn2Oo","modelID":"gpt-5","providerID":"openai","mode":"build","agent":"build","path":{"cwd":"/home/user/webapp","root":"/home/user/webapp"},"cost":0,"tokens":{"total":8952,"input":1800,"output":240,"reasoning":512,"cache":{"read":6400,"write":0}},"finish":"stop"}');
INSERT INTO part VALUES ('prt_52f1c1f0d002Pp3Qq4Rr5Ss6Tt', 'msg_52f1c1f0d001Pp3Qq4Rr5Ss6Tt', 'ses_52f1c0a3dffeYq8Lm2Nc4Vb7Xz', 1795252831000, 1795252831000,
 '{"reason":"stop","snapshot":"0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b","type":"step-finish","tokens":{"total":8952,"input":1800,"output":240,"reasoning":512,"cache":{"read":6400,"write":0}},"cost":0}');

-- The next day: an answer still streaming (no step finished, tokens 0): nothing yet.
INSERT INTO message VALUES ('msg_52f1c2a10001Uu7Vv8Ww9Xx0Yy', 'ses_52f1c0a3dffeYq8Lm2Nc4Vb7Xz', 1795363320000, 1795363320000,
 '{"role":"assistant","time":{"created":1795363320000},"parentID":"msg_52f1c29f0001Uu7Vv8Ww9Xx0Yy","modelID":"claude-sonnet-4-5","providerID":"anthropic","mode":"build","agent":"build","path":{"cwd":"/home/user/webapp","root":"/home/user/webapp"},"cost":0,"tokens":{"input":0,"output":0,"reasoning":0,"cache":{"read":0,"write":0}}}');
