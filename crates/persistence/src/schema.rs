//! Diesel's view of the tables (kept by hand in step with `migrations/`:
//! `tests/tests/schema.rs` compares every declaration with the migrated
//! database, as `diesel print-schema` would, and a test runs every query
//! against it).

/// Column types PostgreSQL has and diesel does not name.
pub mod sql_types {
    /// A transaction id (`xid8`): the audit chain's and the changes feed's
    /// sealers wait on the writing transaction. Only SQL text reads it.
    #[derive(diesel::query_builder::QueryId, Clone, diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "xid8"))]
    pub struct Xid8;
}

diesel::table! {
    entities (code) {
        code -> Text,
        name -> Text,
        abbreviation -> Text,
        curp_key -> Text,
        population -> Int8,
    }
}

diesel::table! {
    institutions (id) {
        id -> Uuid,
        entity_code -> Text,
        name -> Text,
        institution_type -> Text,
        active -> Bool,
        version -> Int4,
        created_at -> Timestamptz,
        created_by -> Nullable<Uuid>,
        updated_at -> Timestamptz,
        updated_by -> Nullable<Uuid>,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        institution_id -> Uuid,
        kind -> Text,
        username -> Text,
        full_name -> Text,
        email -> Nullable<Text>,
        role -> Text,
        password_hash -> Text,
        active -> Bool,
        version -> Int4,
        created_at -> Timestamptz,
        created_by -> Nullable<Uuid>,
        updated_at -> Timestamptz,
        updated_by -> Nullable<Uuid>,
        one_time_password_expires_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    access_tokens (jti) {
        jti -> Uuid,
        user_id -> Uuid,
        issued_at -> Timestamptz,
        expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Uuid,
        user_id -> Uuid,
        family_id -> Uuid,
        token_hash -> Text,
        issued_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    login_throttle (username) {
        username -> Text,
        failures -> Int4,
        last_failure_at -> Timestamptz,
        locked_until -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Xid8;

    /// Partitioned by month of `occurred_at`, which the key must include.
    audit_events (id, occurred_at) {
        id -> Int8,
        occurred_at -> Timestamptz,
        kind -> Text,
        actor_id -> Nullable<Uuid>,
        actor_username -> Nullable<Text>,
        institution_id -> Nullable<Uuid>,
        entity_code -> Nullable<Text>,
        request_id -> Nullable<Text>,
        ip -> Nullable<Text>,
        action -> Text,
        resource_type -> Text,
        resource_id -> Nullable<Text>,
        changes -> Nullable<Jsonb>,
        details -> Nullable<Jsonb>,
        outcome -> Text,
        txid -> Xid8,
    }
}

diesel::table! {
    catalogs (code) {
        code -> Text,
        label_es -> Text,
        label_en -> Text,
        parent_catalog -> Nullable<Text>,
        source -> Text,
    }
}

diesel::table! {
    catalog_items (catalog, code) {
        catalog -> Text,
        code -> Text,
        label_es -> Text,
        label_en -> Text,
        parent_code -> Nullable<Text>,
        sort_order -> Int4,
        active -> Bool,
        extra -> Jsonb,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(institutions -> entities (entity_code));
diesel::joinable!(users -> institutions (institution_id));
diesel::joinable!(access_tokens -> users (user_id));
diesel::joinable!(refresh_tokens -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    entities,
    record_changes,
    institutions,
    users,
    access_tokens,
    refresh_tokens,
    login_throttle,
    audit_events,
    catalogs,
    catalog_items,
    records,
    idempotency_keys,
    duplicate_pairs,
    imports,
);

diesel::table! {
    records (id) {
        id -> Uuid,
        form -> Text,
        entity_code -> Text,
        institution_id -> Uuid,
        parent_id -> Nullable<Uuid>,
        external_folio -> Nullable<Text>,
        data -> Jsonb,
        version -> Int4,
        created_at -> Timestamptz,
        created_by -> Nullable<Uuid>,
        updated_at -> Timestamptz,
        updated_by -> Nullable<Uuid>,
        /// A person's duplicate-matching blocking keys (NULL for other forms).
        blocking_keys -> Nullable<Array<Text>>,
        /// A person's name terms, counted in `name_term_counts` by trigger
        /// (NULL for other forms).
        name_terms -> Nullable<Array<Text>>,
    }
}

diesel::table! {
    name_term_counts (term) {
        term -> Text,
        people -> Int8,
    }
}

diesel::table! {
    idempotency_keys (institution_id, key) {
        institution_id -> Uuid,
        key -> Text,
        request_hash -> Text,
        status -> Int4,
        response -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    duplicate_pairs (id) {
        id -> Uuid,
        person_a -> Uuid,
        person_b -> Uuid,
        level -> Text,
        score -> Float8,
        status -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        decided_by -> Nullable<Uuid>,
        decided_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    imports (id) {
        id -> Uuid,
        institution_id -> Uuid,
        form -> Text,
        file_sha256 -> Text,
        status -> Text,
        report -> Jsonb,
        annotated -> Nullable<Bytea>,
        created_by -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    import_jobs (id) {
        id -> Uuid,
        form -> Text,
        institution_id -> Uuid,
        entity_code -> Text,
        created_by -> Uuid,
        actor_username -> Text,
        actor_role -> Text,
        token_id -> Uuid,
        request_id -> Text,
        ip -> Nullable<Text>,
        lang -> Text,
        dry_run -> Bool,
        status -> Text,
        file_sha256 -> Text,
        file_bytes -> Int8,
        workbook -> Nullable<Bytea>,
        rows_total -> Nullable<Int8>,
        rows_read -> Int8,
        rows_checked -> Int8,
        rows_written -> Int8,
        report -> Nullable<Jsonb>,
        problem -> Nullable<Jsonb>,
        worker_id -> Nullable<Text>,
        attempts -> Int4,
        heartbeat_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        retry_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    periods (entity_code, year, quarter) {
        entity_code -> Text,
        year -> Int4,
        quarter -> Int2,
        status -> Text,
        changed_at -> Nullable<Timestamptz>,
        changed_by -> Nullable<Uuid>,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    period_transitions (id) {
        id -> Int8,
        entity_code -> Text,
        year -> Int4,
        quarter -> Int2,
        action -> Text,
        from_status -> Text,
        to_status -> Text,
        actor_id -> Uuid,
        occurred_at -> Timestamptz,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    cuts (id) {
        id -> Uuid,
        year -> Int4,
        quarter -> Int2,
        taken_at -> Timestamptz,
        taken_by -> Uuid,
        figures -> Jsonb,
        record_count -> Int8,
        records_digest -> Text,
        digest -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Xid8;

    /// The changes feed: a row per write of a record (a trigger writes
    /// it); `position` is assigned by `record_changes_seal()`.
    record_changes (id) {
        id -> Int8,
        txid -> Xid8,
        position -> Nullable<Int8>,
        record_id -> Uuid,
        form -> Text,
        entity_code -> Text,
        institution_id -> Uuid,
        version -> Int4,
        kind -> Text,
        changed_at -> Timestamptz,
    }
}

diesel::table! {
    /// The label overrides in force, one row per overridden field.
    label_overrides (form, field) {
        form -> Text,
        field -> Text,
        label_es -> Nullable<Text>,
        label_en -> Nullable<Text>,
        help_es -> Nullable<Text>,
        help_en -> Nullable<Text>,
        position -> Nullable<Int4>,
        version -> Int4,
        updated_at -> Timestamptz,
        updated_by -> Uuid,
    }
}

diesel::table! {
    /// Every change of a field's label override (insert-only).
    label_override_versions (id) {
        id -> Int8,
        form -> Text,
        field -> Text,
        version -> Int4,
        action -> Text,
        label_es -> Nullable<Text>,
        label_en -> Nullable<Text>,
        help_es -> Nullable<Text>,
        help_en -> Nullable<Text>,
        position -> Nullable<Int4>,
        previous -> Nullable<Jsonb>,
        changed_by -> Uuid,
        changed_at -> Timestamptz,
    }
}

diesel::joinable!(label_override_versions -> users (changed_by));
diesel::allow_tables_to_appear_in_same_query!(label_override_versions, users);
