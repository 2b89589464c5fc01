//! The diesel schema, shared by both backends. It must match what the migrations in
//! `migrations/sqlite` and `migrations/postgres` create: a test checks each migrated backend
//! against this file.
#![allow(missing_docs)]

diesel::table! {
    tenants (id) {
        id -> Text,
        code -> Text,
        name -> Text,
        kind -> Text,
        region -> Text,
        contact -> Text,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    roles (id) {
        id -> Text,
        code -> Text,
        name -> Text,
        parent_id -> Nullable<Text>,
        builtin -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    role_permissions (role_id, permission) {
        role_id -> Text,
        permission -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        display_name -> Text,
        tenant_id -> Nullable<Text>,
        password_hash -> Text,
        must_change_password -> Bool,
        password_changed_at -> Timestamp,
        failed_attempts -> Integer,
        locked_until -> Nullable<Timestamp>,
        totp_secret -> Nullable<Text>,
        totp_enabled -> Bool,
        totp_last_step -> Nullable<BigInt>,
        scope_region -> Nullable<Text>,
        scope_categories -> Text,
        scope_tenants -> Text,
        disabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    user_roles (user_id, role_id) {
        user_id -> Text,
        role_id -> Text,
    }
}

diesel::table! {
    password_history (id) {
        id -> Text,
        user_id -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        csrf_token -> Text,
        stage -> Text,
        source_ip -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        tenant_id -> Text,
        role_id -> Text,
        name -> Text,
        prefix -> Text,
        key_hash -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_log (seq) {
        seq -> BigInt,
        at -> Timestamp,
        actor -> Text,
        actor_role -> Text,
        tenant_id -> Nullable<Text>,
        source_ip -> Text,
        action -> Text,
        object -> Text,
        outcome -> Text,
        correlation_id -> Text,
        detail -> Text,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    node_settings (key) {
        key -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(users -> tenants (tenant_id));
diesel::joinable!(user_roles -> users (user_id));
diesel::joinable!(user_roles -> roles (role_id));
diesel::joinable!(role_permissions -> roles (role_id));
diesel::joinable!(api_keys -> tenants (tenant_id));
diesel::joinable!(sessions -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    tenants,
    roles,
    role_permissions,
    users,
    user_roles,
    password_history,
    sessions,
    api_keys,
    audit_log,
    node_settings,
);
