-- Goose's database `~/.local/share/goose/sessions/sessions.db` (`$GOOSE_PATH_ROOT/data/
-- sessions/sessions.db`), schema version 17 as Goose creates it (sqlx, WAL mode). Build
-- it with `sqlite3 sessions.db < sessions.sql`.
--
-- Goose updates a session's row after every reply: the `accumulated_*` columns are the
-- session's running totals (input includes the cache reads and writes), the others the
-- last reply's. A subagent runs in a session of its own; a session just opened has no
-- usage yet.
PRAGMA journal_mode = WAL;

CREATE TABLE schema_version (
    version INTEGER PRIMARY KEY,
    applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO schema_version (version, applied_at) VALUES (17, '2026-11-02 08:00:00');

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    user_set_name BOOLEAN DEFAULT FALSE,
    session_type TEXT NOT NULL DEFAULT 'user',
    working_dir TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    extension_data TEXT DEFAULT '{}',
    total_tokens INTEGER,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cache_read_tokens INTEGER,
    cache_write_tokens INTEGER,
    accumulated_total_tokens INTEGER,
    accumulated_input_tokens INTEGER,
    accumulated_output_tokens INTEGER,
    accumulated_cache_read_tokens INTEGER,
    accumulated_cache_write_tokens INTEGER,
    accumulated_cost REAL,
    schedule_id TEXT,
    recipe_json TEXT,
    user_recipe_values_json TEXT,
    provider_name TEXT,
    model_config_json TEXT,
    goose_mode TEXT NOT NULL DEFAULT 'auto',
    archived_at TIMESTAMP,
    project_id TEXT,
    parent_session_id TEXT,
    parent_delegation TEXT
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    role TEXT NOT NULL,
    content_json TEXT NOT NULL,
    created_timestamp INTEGER NOT NULL,
    timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    tokens INTEGER,
    metadata_json TEXT
);
CREATE TABLE usage_ledger (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    created_timestamp INTEGER NOT NULL,
    model TEXT,
    input_tokens INTEGER,
    output_tokens INTEGER,
    total_tokens INTEGER,
    cache_read_tokens INTEGER,
    cache_write_tokens INTEGER,
    cost REAL,
    cost_source TEXT,
    is_compaction INTEGER DEFAULT 0
);
CREATE INDEX idx_messages_session ON messages(session_id);
CREATE INDEX idx_messages_timestamp ON messages(timestamp);
CREATE INDEX idx_messages_message_id ON messages(message_id);
CREATE INDEX idx_messages_session_created ON messages(session_id, created_timestamp, id);
CREATE INDEX idx_sessions_updated ON sessions(updated_at DESC);
CREATE INDEX idx_sessions_type ON sessions(session_type);
CREATE INDEX idx_sessions_parent ON sessions(parent_session_id);
CREATE INDEX idx_usage_ledger_session ON usage_ledger(session_id);

INSERT INTO sessions (id, name, user_set_name, session_type, working_dir, created_at, updated_at,
    total_tokens, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
    accumulated_total_tokens, accumulated_input_tokens, accumulated_output_tokens,
    accumulated_cache_read_tokens, accumulated_cache_write_tokens, accumulated_cost,
    provider_name, model_config_json, goose_mode)
VALUES ('20261121_1', 'Fix the flaky upload test', FALSE, 'user', '/home/user/webapp',
    '2026-11-21 09:14:03', '2026-11-21 09:31:40',
    15480, 15120, 360, 12000, 900,
    51330, 48210, 3120, 38000, 6200, 0.09348,
    'anthropic', '{"model_name":"claude-sonnet-4-5","context_limit":200000,"temperature":null,"max_tokens":null,"toolshim":false,"toolshim_model":null,"fast_model":null}', 'auto');

INSERT INTO sessions (id, name, session_type, working_dir, created_at, updated_at,
    total_tokens, input_tokens, output_tokens,
    accumulated_total_tokens, accumulated_input_tokens, accumulated_output_tokens,
    provider_name, model_config_json, parent_session_id)
VALUES ('20261121_2', 'Find the upload handlers', 'sub_agent', '/home/user/webapp',
    '2026-11-21 09:16:40', '2026-11-21 09:18:02',
    5400, 4600, 700,
    15100, 12000, 2600,
    'openai', '{"model_name":"gpt-5-mini","context_limit":400000,"temperature":null,"max_tokens":null,"toolshim":false,"toolshim_model":null,"fast_model":null}', '20261121_1');

INSERT INTO sessions (id, name, session_type, working_dir, created_at, updated_at)
VALUES ('20261122_1', 'New session', 'user', '/home/user/notes', '2026-11-22 16:02:00', '2026-11-22 16:02:00');

INSERT INTO messages (message_id, session_id, role, content_json, created_timestamp, timestamp, metadata_json)
VALUES ('msg_20261121_1_1', '20261121_1', 'user', '[{"type":"text","text":"test_upload_retries fails one run in five; find out why"}]', 1795252443, '2026-11-21 09:14:03', '{"userVisible":true,"agentVisible":true}');
INSERT INTO messages (message_id, session_id, role, content_json, created_timestamp, timestamp, metadata_json)
VALUES ('msg_20261121_1_2', '20261121_1', 'assistant', '[{"type":"text","text":"The retry loop reuses the same temp file."}]', 1795252484, '2026-11-21 09:14:44', '{"userVisible":true,"agentVisible":true}');
