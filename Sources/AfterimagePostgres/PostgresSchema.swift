/// The PostgreSQL schema, versioned like the SQLite migrations. Constraints live in the database;
/// money is `bigint` nano-dollars, times `timestamptz`, embeddings `bytea` (float32).
enum PostgresSchema {
    static let migrations: [(version: String, statements: [String])] = [
        ("v1", [
            """
            CREATE TABLE virtual_keys (
                id text PRIMARY KEY CHECK (length(id) <= 64),
                name text NOT NULL CHECK (length(name) <= 256),
                namespace text NOT NULL CHECK (length(namespace) <= 256),
                allowed_models text,
                prefix text NOT NULL,
                secret_hash text NOT NULL UNIQUE CHECK (length(secret_hash) = 64),
                created_at timestamptz NOT NULL,
                expires_at timestamptz,
                revoked_at timestamptz,
                rotated_at timestamptz,
                limits text
            )
            """,
            "CREATE INDEX virtual_keys_created ON virtual_keys (created_at DESC, id)",
            """
            CREATE TABLE namespace_limits (
                namespace text PRIMARY KEY CHECK (length(namespace) <= 256),
                limits text NOT NULL,
                updated_at timestamptz NOT NULL
            )
            """,
        ]),
        ("v2", [
            """
            CREATE TABLE cache_settings (
                namespace text NOT NULL CHECK (length(namespace) <= 256),
                model text NOT NULL CHECK (length(model) <= 256),
                threshold double precision CHECK (threshold BETWEEN 0 AND 1),
                word_similarity double precision CHECK (word_similarity BETWEEN 0 AND 1),
                PRIMARY KEY (namespace, model)
            )
            """,
            """
            CREATE TABLE cache_settings_audit (
                id bigserial PRIMARY KEY,
                at timestamptz NOT NULL,
                by text NOT NULL CHECK (length(by) <= 256),
                namespace text NOT NULL,
                model text NOT NULL,
                field text NOT NULL CHECK (field IN ('threshold', 'word_similarity')),
                old_value double precision,
                new_value double precision
            )
            """,
        ]),
        ("v3", [
            """
            CREATE TABLE lookup_log (
                id bigserial PRIMARY KEY,
                created_at timestamptz NOT NULL,
                request_id text NOT NULL CHECK (length(request_id) <= 128),
                namespace text NOT NULL CHECK (length(namespace) <= 256),
                model text NOT NULL CHECK (length(model) <= 256),
                prompt text CHECK (octet_length(prompt) <= 2048),
                prompt_hash text NOT NULL,
                candidate_id bigint,
                candidate_prompt text CHECK (octet_length(candidate_prompt) <= 2048),
                candidate_hash text,
                similarity double precision,
                refused_by text CHECK (length(refused_by) <= 512),
                decision text NOT NULL CHECK (decision IN ('semantic', 'miss')),
                threshold double precision NOT NULL,
                candidate_cost_nanos bigint,
                label text CHECK (label IN ('same', 'different')),
                labelled_by text CHECK (length(labelled_by) <= 256),
                labelled_at timestamptz
            )
            """,
            "CREATE INDEX lookup_log_namespace_time ON lookup_log (namespace, created_at)",
        ]),
        ("v4", [
            """
            CREATE TABLE usage_ledger (
                id bigserial PRIMARY KEY,
                request_id text NOT NULL UNIQUE CHECK (length(request_id) <= 128),
                created_at timestamptz NOT NULL,
                key_id text, key_name text CHECK (length(key_name) <= 256), namespace text CHECK (length(namespace) <= 256),
                endpoint text NOT NULL, provider text CHECK (length(provider) <= 256),
                model_requested text CHECK (length(model_requested) <= 256), model_used text CHECK (length(model_used) <= 256),
                status integer NOT NULL, error_code text CHECK (length(error_code) <= 128),
                cache text CHECK (cache IN ('direct', 'semantic', 'miss', 'bypass')), similarity double precision,
                images integer NOT NULL CHECK (images >= 0), size text CHECK (length(size) <= 64), quality text CHECK (length(quality) <= 64),
                text_input_tokens bigint NOT NULL, cached_text_input_tokens bigint NOT NULL, image_input_tokens bigint NOT NULL,
                cached_image_input_tokens bigint NOT NULL, image_output_tokens bigint NOT NULL, text_output_tokens bigint NOT NULL,
                usage_source text, cost_nanos bigint, saved_nanos bigint NOT NULL, embedding_tokens bigint NOT NULL,
                latency_ms bigint NOT NULL, upstream_latency_ms bigint, price_version text, cache_entry_id bigint,
                cost_estimated boolean NOT NULL DEFAULT false, upstream_attempts text CHECK (length(upstream_attempts) <= 2048)
            )
            """,
            "CREATE INDEX usage_ledger_time ON usage_ledger (created_at)",
            "CREATE INDEX usage_ledger_key_time ON usage_ledger (key_id, created_at)",
            "CREATE INDEX usage_ledger_namespace_time ON usage_ledger (namespace, created_at)",
            """
            CREATE TABLE unauthenticated_requests (
                minute timestamptz NOT NULL, source text NOT NULL CHECK (length(source) <= 64), count bigint NOT NULL,
                PRIMARY KEY (minute, source)
            )
            """,
        ]),
    ]
}
