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
        ("v5", [
            // Content-addressed images shared by every replica; a cache row can only name an image
            // whose row exists (foreign key), so the image is always written first.
            """
            CREATE TABLE images (
                id text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{64}$'),
                format text NOT NULL CHECK (length(format) <= 16),
                width integer NOT NULL CHECK (width >= 0), height integer NOT NULL CHECK (height >= 0),
                byte_count bigint NOT NULL CHECK (byte_count = octet_length(data)),
                data bytea NOT NULL,
                created_at timestamptz NOT NULL, last_used_at timestamptz
            )
            """,
            """
            CREATE TABLE cache_entries (
                id bigserial PRIMARY KEY,
                namespace text NOT NULL CHECK (length(namespace) <= 256),
                partition_key text NOT NULL CHECK (length(partition_key) <= 128),
                direct_key text NOT NULL CHECK (length(direct_key) <= 128),
                prompt text NOT NULL, normalized_prompt text NOT NULL,
                embedding bytea CHECK (octet_length(embedding) % 4 = 0 AND octet_length(embedding) <= 65536),
                embedding_model text CHECK (length(embedding_model) <= 256),
                endpoint text NOT NULL CHECK (length(endpoint) <= 64), provider text NOT NULL CHECK (length(provider) <= 256),
                model text NOT NULL CHECK (length(model) <= 256),
                response text NOT NULL, images text NOT NULL, image_extras text NOT NULL,
                byte_count bigint NOT NULL CHECK (byte_count >= 0),
                created_at timestamptz NOT NULL, expires_at timestamptz NOT NULL, last_hit_at timestamptz,
                hit_count bigint NOT NULL DEFAULT 0, direct_hits bigint NOT NULL DEFAULT 0, semantic_hits bigint NOT NULL DEFAULT 0,
                cost_nanos bigint,
                UNIQUE (namespace, partition_key, direct_key)
            )
            """,
            "CREATE INDEX cache_entries_expiry ON cache_entries (expires_at)",
            "CREATE INDEX cache_entries_last_used ON cache_entries ((COALESCE(last_hit_at, created_at)), id)",
            "CREATE INDEX cache_entries_scope ON cache_entries (namespace, model)",
            """
            CREATE TABLE cache_entry_images (
                entry_id bigint NOT NULL REFERENCES cache_entries (id) ON DELETE CASCADE,
                position integer NOT NULL CHECK (position >= 0),
                image_id text NOT NULL REFERENCES images (id),
                PRIMARY KEY (entry_id, position)
            )
            """,
            "CREATE INDEX cache_entry_images_image ON cache_entry_images (image_id)",
            """
            CREATE TABLE cache_counters (
                namespace text NOT NULL, model text NOT NULL,
                direct_hits bigint NOT NULL DEFAULT 0, semantic_hits bigint NOT NULL DEFAULT 0, misses bigint NOT NULL DEFAULT 0,
                PRIMARY KEY (namespace, model)
            )
            """,
            // The change feed every replica's index follows: one row per inserted or deleted entry,
            // in sequence order, plus a notification; `cache_changes_pruned` says how far it was cut.
            """
            CREATE TABLE cache_changes (
                seq bigserial PRIMARY KEY,
                op char(1) NOT NULL CHECK (op IN ('i', 'd')),
                entry_id bigint NOT NULL, namespace text NOT NULL, partition_key text NOT NULL,
                at timestamptz NOT NULL DEFAULT clock_timestamp()
            )
            """,
            "CREATE INDEX cache_changes_time ON cache_changes (at)",
            "CREATE TABLE cache_changes_pruned (single boolean PRIMARY KEY DEFAULT true CHECK (single), upto bigint NOT NULL)",
            "INSERT INTO cache_changes_pruned (upto) VALUES (0)",
            """
            CREATE FUNCTION afterimage_cache_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    INSERT INTO cache_changes (op, entry_id, namespace, partition_key) VALUES ('i', NEW.id, NEW.namespace, NEW.partition_key);
                ELSE
                    INSERT INTO cache_changes (op, entry_id, namespace, partition_key) VALUES ('d', OLD.id, OLD.namespace, OLD.partition_key);
                END IF;
                PERFORM pg_notify('afterimage_cache_changes', '');
                RETURN NULL;
            END $$
            """,
            """
            CREATE TRIGGER cache_entries_changes AFTER INSERT OR DELETE ON cache_entries
            FOR EACH ROW EXECUTE FUNCTION afterimage_cache_change()
            """,
        ]),
    ]
}
