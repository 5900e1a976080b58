-- Hermes Agent's database `~/.hermes/state.db` (`$HERMES_HOME/state.db`; a profile's in
-- `~/.hermes/profiles/<name>/`), WAL mode, with the columns of its `sessions` table that
-- carry usage. Build it with `sqlite3 state.db < state.sql`.
--
-- Hermes adds every API call's usage to its session's row: input without the cache,
-- the cache reads and writes, output (holding the reasoning), the number of calls, and
-- the cost (actual when the provider billed it, else Hermes's estimate). A chat from
-- Telegram ran on a ChatGPT subscription ("included": cost 0); a compression split one
-- session into a child that counts from zero; a session opened but never used has no
-- usage.
PRAGMA journal_mode = WAL;

CREATE TABLE schema_version (
    version INTEGER NOT NULL
);
INSERT INTO schema_version VALUES (9);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    user_id TEXT,
    model TEXT,
    model_config TEXT,
    system_prompt TEXT,
    parent_session_id TEXT,
    started_at REAL NOT NULL,
    ended_at REAL,
    end_reason TEXT,
    message_count INTEGER DEFAULT 0,
    tool_call_count INTEGER DEFAULT 0,
    input_tokens INTEGER DEFAULT 0,
    output_tokens INTEGER DEFAULT 0,
    cache_read_tokens INTEGER DEFAULT 0,
    cache_write_tokens INTEGER DEFAULT 0,
    reasoning_tokens INTEGER DEFAULT 0,
    billing_provider TEXT,
    billing_base_url TEXT,
    billing_mode TEXT,
    estimated_cost_usd REAL,
    actual_cost_usd REAL,
    cost_status TEXT,
    cost_source TEXT,
    pricing_version TEXT,
    title TEXT,
    api_call_count INTEGER DEFAULT 0,
    FOREIGN KEY (parent_session_id) REFERENCES sessions(id)
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    role TEXT NOT NULL,
    content TEXT,
    tool_call_id TEXT,
    tool_calls TEXT,
    tool_name TEXT,
    timestamp REAL NOT NULL,
    token_count INTEGER,
    finish_reason TEXT,
    reasoning TEXT
);
CREATE INDEX idx_sessions_source ON sessions(source);
CREATE INDEX idx_sessions_parent ON sessions(parent_session_id);
CREATE INDEX idx_sessions_started ON sessions(started_at DESC);
CREATE INDEX idx_messages_session ON messages(session_id, timestamp);

INSERT INTO sessions (id, source, model, system_prompt, started_at, ended_at, end_reason,
    message_count, tool_call_count, input_tokens, output_tokens, cache_read_tokens,
    cache_write_tokens, reasoning_tokens, billing_provider, billing_base_url, billing_mode,
    estimated_cost_usd, actual_cost_usd, cost_status, cost_source, title, api_call_count)
VALUES ('20261120_101500_4f7a2c', 'cli', 'anthropic/claude-sonnet-4.5', 'You are Hermes…',
    1795169700.25, 1795171380.5, 'compression', 38, 17, 2400, 1850, 41000, 3200, 0,
    'openrouter', 'https://openrouter.ai/api/v1', 'metered',
    0.0891, 0.0873, 'actual', 'provider_generation_api', 'Refactor the importer', 9);

INSERT INTO sessions (id, source, model, parent_session_id, started_at, message_count,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    billing_provider, billing_mode, estimated_cost_usd, actual_cost_usd, cost_status, title,
    api_call_count)
VALUES ('20261120_104300_9b1e0d', 'cli', 'anthropic/claude-sonnet-4.5', '20261120_101500_4f7a2c',
    1795171380.5, 6, 300, 420, 9000, 800, 0,
    'openrouter', 'metered', 0.0128, NULL, 'estimated', 'Refactor the importer (cont.)', 2);

INSERT INTO sessions (id, source, user_id, model, started_at, message_count, input_tokens,
    output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, billing_provider,
    billing_mode, estimated_cost_usd, actual_cost_usd, cost_status, title, api_call_count)
VALUES ('20261124_184000_c3d2e1', 'telegram', '5512034', 'gpt-5', 1795545600.0, 12, 5200,
    1400, 12000, 0, 600, 'openai-codex', 'subscription', 0.0, 0.0, 'included', NULL, 4);

INSERT INTO sessions (id, source, model, started_at)
VALUES ('20261124_190500_aa00ff', 'cli', 'anthropic/claude-sonnet-4.5', 1795547100.0);

INSERT INTO messages (session_id, role, content, timestamp, finish_reason)
VALUES ('20261120_101500_4f7a2c', 'user', 'Split the importer into a reader and a writer.', 1795169700.4, NULL);
INSERT INTO messages (session_id, role, content, timestamp, finish_reason)
VALUES ('20261120_101500_4f7a2c', 'assistant', 'Done: importer/reader.py and importer/writer.py.', 1795171300.1, 'stop');
