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
        ("v6", [
            // Cluster-wide per-minute limits: one event row per admitted request and scope; the
            // admission checks and inserts under a per-scope lock in one call (-1: no such limit).
            """
            CREATE TABLE limit_events (
                id bigserial PRIMARY KEY,
                scope text NOT NULL CHECK (length(scope) <= 300),
                at timestamptz NOT NULL,
                requests integer NOT NULL CHECK (requests IN (0, 1)),
                images integer NOT NULL CHECK (images >= 0)
            )
            """,
            "CREATE INDEX limit_events_scope_time ON limit_events (scope, at)",
            "CREATE INDEX limit_events_time ON limit_events (at)",
            """
            CREATE FUNCTION afterimage_admit(p_scopes text[], p_rpm integer[], p_ipm integer[], p_images integer, p_counts_request boolean)
            RETURNS TABLE (refused integer, kind text, retry_seconds integer) LANGUAGE plpgsql AS $$
            DECLARE
                i integer;
                n integer := coalesce(array_length(p_scopes, 1), 0);
                v_now timestamptz := clock_timestamp();
                v_count bigint;
                v_used bigint;
                v_at timestamptz;
            BEGIN
                -- Scopes are locked in one order by every replica, so two admissions never deadlock.
                PERFORM pg_advisory_xact_lock(hashtextextended(s, 7)) FROM (SELECT unnest(p_scopes) AS s ORDER BY 1) AS sorted;
                FOR i IN 1 .. n LOOP
                    DELETE FROM limit_events WHERE scope = p_scopes[i] AND at <= v_now - interval '60 seconds';
                    IF p_counts_request AND p_rpm[i] >= 0 THEN
                        SELECT count(*) INTO v_count FROM limit_events WHERE scope = p_scopes[i] AND requests = 1;
                        IF v_count >= p_rpm[i] THEN
                            SELECT at INTO v_at FROM limit_events WHERE scope = p_scopes[i] AND requests = 1
                            ORDER BY at, id OFFSET (v_count - p_rpm[i]) LIMIT 1;
                            RETURN QUERY SELECT i, 'requests'::text,
                                greatest(1, ceil(extract(epoch FROM (coalesce(v_at, v_now) + interval '60 seconds' - v_now))))::integer;
                            RETURN;
                        END IF;
                    END IF;
                    IF p_ipm[i] >= 0 AND p_images > 0 THEN
                        SELECT coalesce(sum(images), 0) INTO v_used FROM limit_events WHERE scope = p_scopes[i];
                        IF v_used + p_images > p_ipm[i] THEN
                            SELECT e.at INTO v_at FROM (
                                SELECT at, id, sum(images) OVER (ORDER BY at, id) AS freed FROM limit_events WHERE scope = p_scopes[i]
                            ) AS e WHERE v_used - e.freed + p_images <= p_ipm[i] ORDER BY e.at, e.id LIMIT 1;
                            RETURN QUERY SELECT i, 'images'::text,
                                greatest(1, ceil(extract(epoch FROM (coalesce(v_at, v_now) + interval '60 seconds' - v_now))))::integer;
                            RETURN;
                        END IF;
                    END IF;
                END LOOP;
                FOR i IN 1 .. n LOOP
                    IF (p_counts_request AND p_rpm[i] >= 0) OR (p_images > 0 AND p_ipm[i] >= 0) THEN
                        INSERT INTO limit_events (scope, at, requests, images) VALUES (
                            p_scopes[i], v_now,
                            CASE WHEN p_counts_request AND p_rpm[i] >= 0 THEN 1 ELSE 0 END,
                            CASE WHEN p_ipm[i] >= 0 THEN p_images ELSE 0 END);
                    END IF;
                END LOOP;
            END $$
            """,
            // Cluster-wide budgets: spend per scope and period (seeded from the ledger the first time),
            // and holds of in-flight requests at their worst case, with a lease so a dead replica's
            // holds stop counting. `p_key_ids[i]` is '' for a namespace scope; `spents` is each
            // scope's spend before this request (budget gauges).
            """
            CREATE TABLE budget_spend (
                scope text NOT NULL CHECK (length(scope) <= 300),
                period_start timestamptz NOT NULL,
                spent_nanos bigint NOT NULL,
                PRIMARY KEY (scope, period_start)
            )
            """,
            """
            CREATE TABLE budget_holds (
                id bigserial PRIMARY KEY,
                scope text NOT NULL CHECK (length(scope) <= 300),
                period_start timestamptz NOT NULL,
                amount_nanos bigint NOT NULL CHECK (amount_nanos >= 0),
                expires_at timestamptz NOT NULL
            )
            """,
            "CREATE INDEX budget_holds_scope ON budget_holds (scope, period_start)",
            """
            CREATE FUNCTION afterimage_reserve(p_scopes text[], p_key_ids text[], p_namespaces text[], p_budgets bigint[],
                p_periods timestamptz[], p_worst bigint, p_lease_seconds integer)
            RETURNS TABLE (outcome text, refused integer, spent bigint, hold_ids bigint[], spents bigint[]) LANGUAGE plpgsql AS $$
            DECLARE
                i integer;
                n integer := coalesce(array_length(p_scopes, 1), 0);
                v_now timestamptz := clock_timestamp();
                v_spent bigint;
                v_held bigint;
                v_id bigint;
                v_ids bigint[] := '{}';
                v_spents bigint[] := '{}';
            BEGIN
                PERFORM pg_advisory_xact_lock(hashtextextended(s, 11)) FROM (SELECT unnest(p_scopes) AS s ORDER BY 1) AS sorted;
                FOR i IN 1 .. n LOOP
                    INSERT INTO budget_spend (scope, period_start, spent_nanos)
                        SELECT p_scopes[i], p_periods[i], coalesce(sum(cost_nanos), 0)::bigint FROM usage_ledger
                        WHERE created_at >= p_periods[i]
                          AND CASE WHEN p_key_ids[i] <> '' THEN key_id = p_key_ids[i] ELSE namespace = p_namespaces[i] END
                    ON CONFLICT (scope, period_start) DO NOTHING;
                    SELECT b.spent_nanos INTO v_spent FROM budget_spend b WHERE b.scope = p_scopes[i] AND b.period_start = p_periods[i];
                    v_spents := v_spents || v_spent;
                    IF v_spent + p_worst > p_budgets[i] THEN
                        RETURN QUERY SELECT 'exhausted'::text, i, v_spent, NULL::bigint[], v_spents;
                        RETURN;
                    END IF;
                    SELECT coalesce(sum(amount_nanos), 0)::bigint INTO v_held FROM budget_holds h
                    WHERE h.scope = p_scopes[i] AND h.period_start = p_periods[i] AND h.expires_at > v_now;
                    IF v_spent + v_held + p_worst > p_budgets[i] THEN
                        RETURN QUERY SELECT 'wait'::text, i, v_spent, NULL::bigint[], v_spents;
                        RETURN;
                    END IF;
                END LOOP;
                FOR i IN 1 .. n LOOP
                    INSERT INTO budget_holds (scope, period_start, amount_nanos, expires_at)
                    VALUES (p_scopes[i], p_periods[i], p_worst, v_now + make_interval(secs => p_lease_seconds)) RETURNING id INTO v_id;
                    v_ids := v_ids || v_id;
                END LOOP;
                RETURN QUERY SELECT 'held'::text, 0, 0::bigint, v_ids, v_spents;
            END $$
            """,
            """
            CREATE FUNCTION afterimage_settle(p_ids bigint[], p_actual bigint) RETURNS void LANGUAGE plpgsql AS $$
            BEGIN
                -- The reservation's lock: a reserve never sees the hold gone but the spend not yet added.
                PERFORM pg_advisory_xact_lock(hashtextextended(s, 11))
                FROM (SELECT DISTINCT scope AS s FROM budget_holds WHERE id = ANY(p_ids) ORDER BY 1) AS sorted;
                WITH gone AS (DELETE FROM budget_holds WHERE id = ANY(p_ids) RETURNING scope, period_start)
                UPDATE budget_spend b SET spent_nanos = b.spent_nanos + p_actual
                FROM gone WHERE b.scope = gone.scope AND b.period_start = gone.period_start;
            END $$
            """,
        ]),
        ("v7", [
            // Cluster-wide single-flight: one row per request being fetched upstream, with its owner
            // and a lease the owner renews; an expired lease may be taken over.
            """
            CREATE TABLE flight_claims (
                key text PRIMARY KEY CHECK (length(key) = 64),
                owner text NOT NULL CHECK (length(owner) <= 64),
                expires_at timestamptz NOT NULL
            )
            """,
        ]),
        ("v8", [
            // Alerts sent, by deduplication key: the first replica to insert one sends it.
            """
            CREATE TABLE alerts_sent (
                key text PRIMARY KEY CHECK (length(key) <= 512),
                sent_at timestamptz NOT NULL
            )
            """,
            "CREATE INDEX alerts_sent_sent_at ON alerts_sent (sent_at)",
        ]),
        ("v9", [
            // When a claimed alert was delivered: a claim never marked (its sender died or every
            // try failed) may be taken over once its lease passed. Claims made before this
            // migration were sent right after claiming: they count as delivered.
            "ALTER TABLE alerts_sent ADD COLUMN delivered_at timestamptz",
            "UPDATE alerts_sent SET delivered_at = sent_at",
        ]),
        ("v10", [
            // The alert kept with its claim and when it was first raised: one never marked
            // delivered is sent again once its lease lapsed, without waiting to be raised again.
            "ALTER TABLE alerts_sent ADD COLUMN alert text CHECK (alert IS NULL OR octet_length(alert) <= 16384)",
            "ALTER TABLE alerts_sent ADD COLUMN raised_at timestamptz",
        ]),
    ]
}
