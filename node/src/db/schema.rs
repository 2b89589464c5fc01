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
    job_state (name) {
        name -> Text,
        fire_at -> Nullable<Timestamp>,
        holder -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        last_started_at -> Nullable<Timestamp>,
        last_finished_at -> Nullable<Timestamp>,
        last_outcome -> Nullable<Text>,
        last_detail -> Nullable<Text>,
        runs -> BigInt,
        failures -> BigInt,
    }
}

diesel::table! {
    job_runs (id) {
        id -> BigInt,
        name -> Text,
        fire_at -> Timestamp,
        holder -> Text,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        outcome -> Nullable<Text>,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    sign_in_failures (scope, subject) {
        scope -> Text,
        subject -> Text,
        failures -> Integer,
        first_at -> Timestamp,
        blocked_until -> Nullable<Timestamp>,
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
        digest -> Text,
    }
}

diesel::table! {
    node_settings (key) {
        key -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    catalogue_versions (version) {
        version -> BigInt,
        origin -> Text,
        note -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    product_categories (code) {
        code -> Text,
        parent_code -> Nullable<Text>,
        name -> Text,
        level -> Integer,
        origin -> Text,
        catalogue_version -> BigInt,
        retired -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sites (id) {
        id -> Text,
        tenant_id -> Text,
        code -> Text,
        name -> Text,
        kind -> Text,
        region -> Text,
        address -> Text,
        longitude -> Nullable<Double>,
        latitude -> Nullable<Double>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        gln -> Nullable<Text>,
    }
}

diesel::table! {
    entities (id) {
        id -> Text,
        tenant_id -> Text,
        code -> Text,
        name -> Text,
        kind -> Text,
        region -> Text,
        address -> Text,
        longitude -> Nullable<Double>,
        latitude -> Nullable<Double>,
        contact_person -> Text,
        contact_phone -> Text,
        stages -> Integer,
        categories -> Text,
        site_id -> Nullable<Text>,
        merchant_code -> Nullable<Text>,
        merchant_type -> Nullable<Text>,
        varieties -> Text,
        filed_at -> Timestamp,
        status -> Text,
        status_reason -> Text,
        version -> Integer,
        version_actor -> Text,
        version_note -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        category_families -> BigInt,
        gln -> Nullable<Text>,
    }
}

diesel::table! {
    entity_versions (entity_id, version) {
        entity_id -> Text,
        version -> Integer,
        data -> Text,
        actor -> Text,
        note -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    registry_changes (id) {
        id -> Text,
        object_kind -> Text,
        object_id -> Text,
        tenant_id -> Text,
        change_kind -> Text,
        data -> Text,
        fields -> Text,
        status -> Text,
        reason -> Text,
        submitted_by -> Text,
        submitted_at -> Timestamp,
        reviewed_by -> Nullable<Text>,
        reviewed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    tenant_field_policies (tenant_id, object_kind, field) {
        tenant_id -> Text,
        object_kind -> Text,
        field -> Text,
        mode -> Text,
    }
}

diesel::table! {
    devices (id) {
        id -> Text,
        tenant_id -> Text,
        entity_id -> Nullable<Text>,
        site_id -> Nullable<Text>,
        device_type -> Text,
        model -> Text,
        mac -> Text,
        serial_number -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    products (id) {
        id -> Text,
        tenant_id -> Text,
        entity_id -> Text,
        scheme -> Text,
        code -> Text,
        name -> Text,
        category_code -> Text,
        specification -> Text,
        brand -> Text,
        shelf_life_days -> Nullable<Integer>,
        status -> Text,
        status_reason -> Text,
        version -> Integer,
        version_actor -> Text,
        version_note -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    product_versions (product_id, version) {
        product_id -> Text,
        version -> Integer,
        data -> Text,
        actor -> Text,
        note -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    registry_outbox (seq) {
        seq -> BigInt,
        object_kind -> Text,
        object_id -> Text,
        version -> Integer,
        payload -> Text,
        created_at -> Timestamp,
        source_region -> Nullable<Text>,
    }
}

diesel::table! {
    trace_records (seq) {
        seq -> BigInt,
        tenant_id -> Text,
        record_id -> Text,
        content_hash -> Binary,
        submission_id -> Text,
        reporter -> Text,
        status -> Text,
        flagged -> Bool,
        from_code -> Text,
        from_name -> Text,
        from_region -> Text,
        to_code -> Text,
        to_name -> Text,
        to_region -> Text,
        trace_code -> Text,
        scheme -> Text,
        product_name -> Text,
        category -> Text,
        specification -> Text,
        batch -> Text,
        production_date -> Nullable<Text>,
        shelf_life_days -> Nullable<Integer>,
        origin -> Text,
        stage -> Text,
        direction -> Text,
        quantity_milli -> BigInt,
        unit -> Text,
        price_fen -> Nullable<BigInt>,
        amount_fen -> Nullable<BigInt>,
        act_time -> Timestamp,
        place -> Text,
        region -> Text,
    }
}

diesel::table! {
    duplicate_claims (id) {
        id -> Text,
        code -> Text,
        found_at -> Text,
        holders -> Text,
        status -> Text,
        reason -> Text,
        received_at -> Timestamp,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    trace_vouchers (tenant_id, record_id) {
        tenant_id -> Text,
        record_id -> Text,
        voucher -> Text,
    }
}

diesel::table! {
    trace_corrections (tenant_id, record_id) {
        tenant_id -> Text,
        record_id -> Text,
        corrects -> Text,
    }
}

diesel::table! {
    trace_daily (tenant_id, day, region, category, stage, direction) {
        tenant_id -> Text,
        day -> Text,
        region -> Text,
        category -> Text,
        stage -> Text,
        direction -> Text,
        records -> BigInt,
        quantity_milli -> BigInt,
        amount_fen -> BigInt,
        priced -> BigInt,
        price_fen_sum -> BigInt,
        price_fen_sumsq -> Double,
    }
}

diesel::table! {
    submissions (id) {
        id -> Text,
        tenant_id -> Text,
        sender -> Text,
        channel -> Text,
        format -> Text,
        message_id -> Nullable<Text>,
        mode -> Text,
        dry_run -> Bool,
        status -> Text,
        bytes -> BigInt,
        received -> BigInt,
        accepted -> BigInt,
        duplicates -> BigInt,
        rejected -> BigInt,
        quarantined -> BigInt,
        flagged -> BigInt,
        receipt -> Nullable<Text>,
        spool -> Nullable<Text>,
        actor -> Text,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    ingest_policies (tenant_id) {
        tenant_id -> Text,
        unknown_reference -> Text,
        max_body_bytes -> Nullable<BigInt>,
        submissions_per_minute -> Nullable<Integer>,
        expected_every_minutes -> Nullable<Integer>,
        updated_by -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    anomalies (id) {
        id -> Text,
        tenant_id -> Text,
        record_id -> Text,
        submission_id -> Text,
        rule -> Text,
        detail_zh -> Text,
        detail_en -> Text,
        status -> Text,
        reviewed_by -> Nullable<Text>,
        reviewed_at -> Nullable<Timestamp>,
        review_note -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    anomaly_rules (id) {
        id -> Text,
        tenant_id -> Nullable<Text>,
        kind -> Text,
        name -> Text,
        params -> Text,
        enabled -> Bool,
        updated_by -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    notify_channels (id) {
        id -> Text,
        name -> Text,
        kind -> Text,
        target -> Text,
        secret -> Nullable<Text>,
        tenant_id -> Nullable<Text>,
        enabled -> Bool,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notifications (id) {
        id -> Text,
        channel_id -> Text,
        topic -> Text,
        subject -> Text,
        body -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        next_attempt_at -> Timestamp,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    alerts (id) {
        id -> Text,
        tenant_id -> Text,
        sender -> Text,
        kind -> Text,
        detail_zh -> Text,
        detail_en -> Text,
        status -> Text,
        opened_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    pull_cursors (name) {
        name -> Text,
        cursor -> Text,
        updated_at -> Timestamp,
        last_error -> Nullable<Text>,
    }
}

diesel::joinable!(users -> tenants (tenant_id));
diesel::joinable!(notifications -> notify_channels (channel_id));
diesel::joinable!(user_roles -> users (user_id));
diesel::joinable!(user_roles -> roles (role_id));
diesel::joinable!(role_permissions -> roles (role_id));
diesel::joinable!(api_keys -> tenants (tenant_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(entities -> tenants (tenant_id));
diesel::joinable!(entities -> sites (site_id));
diesel::joinable!(sites -> tenants (tenant_id));
diesel::joinable!(entity_versions -> entities (entity_id));
diesel::joinable!(products -> entities (entity_id));
diesel::table! {
    federation_children (region) {
        region -> Text,
        tier -> Text,
        name -> Text,
        fingerprint -> Text,
        status -> Text,
        enrolled_via -> Text,
        enrolled_at -> Timestamp,
        ca_not_after -> Nullable<Timestamp>,
        last_contact_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        last_error_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    federation_outgoing (kind, batch_no) {
        kind -> Text,
        batch_no -> BigInt,
        batch_id -> Text,
        items -> BigInt,
        first_seq -> Nullable<BigInt>,
        last_seq -> Nullable<BigInt>,
        digest -> Text,
        batch -> Text,
        created_at -> Timestamp,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        acked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    federation_uplink (kind) {
        kind -> Text,
        lease_holder -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        collected_through -> BigInt,
        last_run_at -> Nullable<Timestamp>,
        last_ok_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        failures_in_a_row -> Integer,
    }
}

diesel::table! {
    federation_incoming (id) {
        id -> Text,
        batch_id -> Text,
        child_region -> Text,
        kind -> Text,
        batch_no -> BigInt,
        items -> BigInt,
        digest -> Text,
        outcome -> Text,
        code -> Nullable<Text>,
        detail -> Nullable<Text>,
        via -> Text,
        received_at -> Timestamp,
        sealed_by -> Nullable<Text>,
    }
}

diesel::table! {
    federation_cursors (child_region, kind) {
        child_region -> Text,
        kind -> Text,
        batch_no -> BigInt,
        batch_id -> Text,
        applied_at -> Timestamp,
    }
}

diesel::table! {
    federation_applied (batch_id) {
        batch_id -> Text,
        child_region -> Text,
        kind -> Text,
        batch_no -> BigInt,
    }
}

diesel::table! {
    federated_registrations (source_region, object_kind, object_id) {
        source_region -> Text,
        object_kind -> Text,
        object_id -> Text,
        version -> Integer,
        payload -> Text,
        via_child -> Text,
        received_at -> Timestamp,
        code -> Text,
        name -> Text,
        region -> Text,
    }
}

diesel::table! {
    federated_statistics (child_region, day, region, category, stage, direction) {
        child_region -> Text,
        day -> Text,
        region -> Text,
        category -> Text,
        stage -> Text,
        direction -> Text,
        records -> BigInt,
        quantity_milli -> BigInt,
        amount_fen -> BigInt,
        priced -> BigInt,
        price_fen_sum -> BigInt,
    }
}

diesel::table! {
    statistics_marks (day, region) {
        day -> Text,
        region -> Text,
        stamp -> BigInt,
    }
}

diesel::table! {
    statistics_sent (day, region) {
        day -> Text,
        region -> Text,
        digest -> Text,
        batch_no -> BigInt,
    }
}

diesel::table! {
    statistics_summary (level, span, period, region, stage, direction) {
        level -> SmallInt,
        span -> Text,
        period -> Text,
        region -> Text,
        stage -> Text,
        direction -> Text,
        records -> BigInt,
        quantity_milli -> BigInt,
        amount_fen -> BigInt,
        priced -> BigInt,
        price_fen_sum -> BigInt,
    }
}

diesel::table! {
    audit_checkpoints (child_region, seq) {
        child_region -> Text,
        seq -> BigInt,
        hash -> Text,
        signed_at -> Text,
        signature -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    issued_certificates (serial) {
        serial -> Text,
        kind -> Text,
        subject -> Text,
        tenant_id -> Nullable<Text>,
        fingerprint -> Text,
        not_before -> Timestamp,
        not_after -> Timestamp,
        status -> Text,
        issued_at -> Timestamp,
        issued_by -> Text,
        revoked_at -> Nullable<Timestamp>,
        revoked_by -> Nullable<Text>,
        reason -> Nullable<Text>,
        warned_at -> Nullable<Timestamp>,
        certificate -> Text,
    }
}

diesel::table! {
    crl_published (number) {
        number -> BigInt,
        published_at -> Timestamp,
        next_update -> Timestamp,
        revoked -> Integer,
        pem -> Nullable<Text>,
    }
}

diesel::table! {
    child_revocation_lists (child_region) {
        child_region -> Text,
        number -> BigInt,
        pem -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    federation_messages (seq) {
        seq -> BigInt,
        kind -> Text,
        target -> Text,
        origin -> Text,
        payload -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    federation_received (parent_seq) {
        parent_seq -> BigInt,
        kind -> Text,
        target -> Text,
        origin -> Text,
        payload -> Text,
        outcome -> Text,
        detail -> Nullable<Text>,
        received_at -> Timestamp,
    }
}

diesel::table! {
    enrolment_requests (id) {
        id -> Text,
        region -> Text,
        tier -> Text,
        name -> Text,
        fingerprint -> Text,
        request_pem -> Text,
        token_hash -> Text,
        status -> Text,
        reason -> Nullable<Text>,
        bundle -> Nullable<Text>,
        source_ip -> Text,
        created_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
        decided_by -> Nullable<Text>,
    }
}

diesel::joinable!(product_versions -> products (product_id));

diesel::table! {
    sanxin_classes (edition, code) {
        edition -> Text,
        code -> Text,
        name -> Text,
        level -> SmallInt,
        industries -> Text,
    }
}

diesel::table! {
    industry_forms (code) {
        code -> Text,
        name -> Text,
        edition -> Text,
        frequency -> Text,
        deadline_days -> Integer,
        origin -> Text,
        status -> Text,
        definition -> Text,
        digest -> Text,
        created_at -> Timestamp,
        published_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    industry_form_units (form_code, tenant_id) {
        form_code -> Text,
        tenant_id -> Text,
    }
}

diesel::table! {
    industry_reports (id) {
        id -> Text,
        form_code -> Text,
        period -> Text,
        tenant_id -> Text,
        status -> Text,
        figures -> Text,
        digest -> Text,
        version -> Integer,
        filled_by -> Text,
        filled_at -> Timestamp,
        submitted_at -> Nullable<Timestamp>,
        reviewed_by -> Nullable<Text>,
        reviewed_at -> Nullable<Timestamp>,
        reason -> Text,
    }
}

diesel::table! {
    industry_periods (form_code, period) {
        form_code -> Text,
        period -> Text,
        closed_by -> Text,
        closed_at -> Timestamp,
    }
}

diesel::table! {
    industry_reminders (form_code, period, tenant_id, kind) {
        form_code -> Text,
        period -> Text,
        tenant_id -> Text,
        kind -> Text,
        sent_at -> Timestamp,
    }
}

diesel::table! {
    industry_summaries (source_region, form_code, period) {
        source_region -> Text,
        form_code -> Text,
        period -> Text,
        via -> Text,
        revision -> BigInt,
        units_expected -> BigInt,
        units_reported -> BigInt,
        children_expected -> BigInt,
        children_reported -> BigInt,
        figures -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    access_applications (id) {
        id -> Text,
        status -> Text,
        kind -> Text,
        org_name -> Text,
        org_code -> Text,
        region -> Text,
        contact_name -> Text,
        contact_phone -> Text,
        contact_email -> Text,
        system_name -> Text,
        system_operator -> Text,
        details -> Text,
        token_hash -> Text,
        source_ip -> Text,
        created_at -> Timestamp,
        reviewed_by -> Nullable<Text>,
        reviewed_at -> Nullable<Timestamp>,
        reason -> Text,
        filing_number -> Nullable<Text>,
        filed_by -> Nullable<Text>,
        filed_at -> Nullable<Timestamp>,
        tenant_id -> Nullable<Text>,
        changed_by -> Nullable<Text>,
        changed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    industry_outbox (seq) {
        seq -> BigInt,
        source_region -> Text,
        form_code -> Text,
        period -> Text,
        payload -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    party_activity (day, tenant_id, party_code, stage) {
        tenant_id -> Text,
        day -> Text,
        party_code -> Text,
        stage -> Text,
        records -> BigInt,
        rejected -> BigInt,
        flagged -> BigInt,
        delay_seconds_sum -> BigInt,
        delay_seconds_max -> BigInt,
        corrections -> BigInt,
    }
}

diesel::table! {
    monitoring_thresholds (stage, indicator) {
        stage -> Text,
        indicator -> Text,
        bound_milli -> Nullable<BigInt>,
        window_days -> Integer,
        min_base -> BigInt,
        reporting_interval -> Text,
        updated_by -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    monitoring_warnings (id) {
        id -> Text,
        subject_kind -> Text,
        subject_id -> Text,
        subject_code -> Text,
        subject_name -> Text,
        tenant_id -> Text,
        region -> Text,
        stage -> Text,
        indicator -> Text,
        value_milli -> BigInt,
        bound_milli -> BigInt,
        window_from -> Text,
        window_to -> Text,
        status -> Text,
        opened_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
        resolved_value_milli -> Nullable<BigInt>,
    }
}

diesel::table! {
    evaluation_sets (code, version) {
        code -> Text,
        version -> Integer,
        name -> Text,
        frequency -> Text,
        object_kind -> Text,
        stage -> Text,
        definition -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        origin -> Text,
    }
}

diesel::table! {
    evaluation_runs (id) {
        id -> Text,
        set_code -> Text,
        set_version -> Integer,
        period -> Text,
        status -> Text,
        objects -> BigInt,
        evaluated -> BigInt,
        run_by -> Text,
        created_at -> Timestamp,
        grades -> Text,
        basis -> Text,
    }
}

diesel::table! {
    evaluation_results (run_id, object_id) {
        run_id -> Text,
        object_id -> Text,
        object_code -> Text,
        object_name -> Text,
        tenant_id -> Text,
        region -> Text,
        score_milli -> Nullable<BigInt>,
        grade -> Text,
        rank -> Nullable<BigInt>,
        inputs -> Text,
    }
}

diesel::table! {
    evaluation_summaries (set_code, set_version, period, source_region) {
        set_code -> Text,
        set_version -> Integer,
        period -> Text,
        source_region -> Text,
        via -> Text,
        revision -> BigInt,
        objects -> BigInt,
        evaluated -> BigInt,
        grades -> Text,
        basis -> Text,
        children_expected -> BigInt,
        children_reported -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    evaluation_held_runs (set_code, set_version, period, source_region) {
        set_code -> Text,
        set_version -> Integer,
        period -> Text,
        source_region -> Text,
        run_id -> Text,
        parts -> Integer,
        parts_received -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    evaluation_held_results (set_code, set_version, period, source_region, object_id) {
        set_code -> Text,
        set_version -> Integer,
        period -> Text,
        source_region -> Text,
        object_id -> Text,
        object_code -> Text,
        object_name -> Text,
        region -> Text,
        score_milli -> Nullable<BigInt>,
        grade -> Text,
        rank -> Nullable<BigInt>,
        indicators -> Text,
    }
}

diesel::table! {
    evaluation_outbox (seq) {
        seq -> BigInt,
        payload -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    pull_days (tenant_id, day, source) {
        tenant_id -> Text,
        source -> Text,
        day -> Text,
        runs -> BigInt,
        failures -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    duplicate_claims,
    job_state,
    job_runs,
    child_revocation_lists,
    sign_in_failures,
    trace_records,
    pull_cursors,
    trace_corrections,
    ingest_policies,
    anomalies,
    anomaly_rules,
    notify_channels,
    notifications,
    alerts,
    trace_daily,
    submissions,
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
    catalogue_versions,
    product_categories,
    sites,
    entities,
    entity_versions,
    registry_changes,
    tenant_field_policies,
    devices,
    products,
    product_versions,
    registry_outbox,
    federation_children,
    federation_outgoing,
    federation_uplink,
    federation_incoming,
    federation_cursors,
    federation_applied,
    federated_registrations,
    federated_statistics,
    statistics_marks,
    statistics_sent,
    statistics_summary,
    audit_checkpoints,
    issued_certificates,
    crl_published,
    federation_messages,
    federation_received,
    enrolment_requests,
    sanxin_classes,
    industry_forms,
    industry_form_units,
    industry_reports,
    industry_periods,
    industry_reminders,
    industry_summaries,
    industry_outbox,
    access_applications,
    party_activity,
    monitoring_thresholds,
    monitoring_warnings,
    evaluation_sets,
    evaluation_runs,
    evaluation_results,
    evaluation_summaries,
    evaluation_held_runs,
    evaluation_held_results,
    evaluation_outbox,
    pull_days,
);
