//! The sign-in flow: password, forced change of a one-time password, TOTP enrolment or
//! verification, sign-out.
//!
//! ```text
//!   password ok ──▶ must change? ──yes──▶ PasswordChange ──changed──┐
//!                        │no                                        ▼
//!                        └──────────────▶ TOTP enrolled? ──yes──▶ TotpVerify ──code──▶ Active
//!                                              │no
//!                                              ├─ admin ──▶ TotpEnrol ──code──▶ Active
//!                                              └─ other ──────────────────────▶ Active
//! ```
//!
//! Every attempt, successful or not, writes an audit row in the transaction that records it.
//! Failures of any kind (unknown name, wrong password, disabled or locked account) read the
//! same to the caller. Wrong passwords are throttled per source address and lock the account
//! for that address only ([`crate::credentials::throttle`]); failures after the password (the current
//! password at a forced change, TOTP codes), which only someone holding the password can
//! make, lock the account itself after `lockout_threshold` in a row, for `lockout_minutes`.

use diesel::prelude::*;

use crate::audit::{self, AuditContext, Outcome};
use crate::config::AuthSection;
use crate::credentials::session::{self, Session, Stage};
use crate::credentials::totp;
use crate::credentials::{password, throttle};
use crate::db::schema::{password_history, users};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult, ErrorKind};
use crate::ids::UserId;
use crate::keys::Sealer;
use crate::users::accounts::{self, UserRecord};
use crate::users::permission::builtin;
use crate::users::roles;

/// A started session: the token for the cookie and where the flow goes next.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// Token for the session cookie.
    pub token: String,
    /// The session.
    pub session: Session,
}

fn failed() -> AppError {
    AppError::new(ErrorKind::SignInFailed)
}

fn throttled(wait_seconds: i64) -> AppError {
    let mut e = AppError::with_detail(
        ErrorKind::SignInThrottled,
        format!("登录失败次数过多，请 {wait_seconds} 秒后再试"),
        format!("too many failed sign-ins from this address; retry in {wait_seconds} s"),
    );
    e.retry_after = Some(wait_seconds);
    e
}

/// Whether the account must use TOTP: it holds a role of an administrator lineage.
pub fn totp_required(conn: &mut DbConnection, cfg: &AuthSection, user: &UserId) -> AppResult<bool> {
    if !cfg.require_totp_for_admins {
        return Ok(false);
    }
    let all = roles::list(conn)?;
    let held = accounts::roles_of(conn, user)?;
    Ok(held.iter().any(|r| builtin(&roles::lineage_root(&all, r).code).is_some_and(|b| b.separated_admin)))
}

fn stage_after_password(conn: &mut DbConnection, cfg: &AuthSection, r: &UserRecord) -> AppResult<Stage> {
    let id = UserId::from_db(r.id.clone());
    Ok(if r.must_change_password { Stage::PasswordChange } else { stage_after_change(conn, cfg, r.totp_enabled, &id)? })
}

fn stage_after_change(conn: &mut DbConnection, cfg: &AuthSection, totp_enabled: bool, id: &UserId) -> AppResult<Stage> {
    Ok(if totp_enabled {
        Stage::TotpVerify
    } else if totp_required(conn, cfg, id)? {
        Stage::TotpEnrol
    } else {
        Stage::Active
    })
}

/// Records a failure after the password (a wrong current password at a forced change, a wrong
/// TOTP code) against the account and locks it when the threshold is reached; returns whether
/// it is now locked.
fn count_failure(conn: &mut DbConnection, cfg: &AuthSection, r: &UserRecord) -> AppResult<bool> {
    let attempts = r.failed_attempts + 1;
    let locked = attempts >= cfg.lockout_threshold;
    let (attempts, until) = if locked {
        (0, Some(crate::db::now() + chrono::TimeDelta::minutes(cfg.lockout_minutes)))
    } else {
        (attempts, r.locked_until)
    };
    diesel::update(users::table.filter(users::id.eq(&r.id)))
        .set((users::failed_attempts.eq(attempts), users::locked_until.eq(until)))
        .execute(conn)?;
    Ok(locked)
}

/// Checks a user name and password. The outer result is a database failure (the transaction
/// rolls back); the inner one is the sign-in outcome, which is committed with its audit row.
pub fn sign_in(
    conn: &mut DbConnection,
    cfg: &AuthSection,
    ctx: &AuditContext,
    username: &str,
    password_given: &str,
) -> AppResult<Result<SignedIn, AppError>> {
    let name: String = username.trim().chars().take(64).collect();
    let ctx = AuditContext { actor: name.clone(), ..ctx.clone() };
    // Every failure counts against the address (and the account, when `user` is one), and is
    // audited; the start of an address's wait is audited once more.
    let fail =
        |conn: &mut DbConnection, user: Option<&UserId>, reason: &str| -> AppResult<Result<SignedIn, AppError>> {
            let outcome = throttle::failed(conn, cfg, user, &ctx.source_ip)?;
            let reason = if outcome.account_locked { format!("{reason}_now_locked") } else { reason.to_owned() };
            audit::record(
                conn,
                &ctx,
                "auth.sign_in",
                &format!("user:{name}"),
                Outcome::Failure,
                serde_json::json!({"reason": reason}),
            )?;
            if let Some(wait) = outcome.address_waits {
                audit::record(
                    conn,
                    &ctx,
                    "auth.throttle",
                    &format!("address:{}", ctx.source_ip),
                    Outcome::Denied,
                    serde_json::json!({"wait_seconds": wait}),
                )?;
            }
            Ok(Err(failed()))
        };
    if let Some(wait) = throttle::address_wait(conn, &ctx.source_ip)? {
        return Ok(Err(throttled(wait)));
    }
    let Some(record) = accounts::record_by_name(conn, &name)? else {
        password::decoy_verify(password_given);
        return fail(conn, None, "unknown_user");
    };
    let user_id = UserId::from_db(record.id.clone());
    if record.disabled {
        password::decoy_verify(password_given);
        return fail(conn, None, "disabled");
    }
    if record.locked_until.is_some_and(|t| t > crate::db::now())
        || throttle::account_locked(conn, &user_id, &ctx.source_ip)?
    {
        password::decoy_verify(password_given);
        return fail(conn, None, "locked");
    }
    if !password::verify(password_given, &record.password_hash) {
        return fail(conn, Some(&user_id), "wrong_password");
    }
    throttle::succeeded(conn, &user_id, &ctx.source_ip)?;
    diesel::update(users::table.filter(users::id.eq(&record.id)))
        .set((users::failed_attempts.eq(0), users::locked_until.eq(None::<chrono::NaiveDateTime>)))
        .execute(conn)?;
    let stage = stage_after_password(conn, cfg, &record)?;
    let (token, session) = session::start(conn, &user_id, stage, &ctx.source_ip, cfg.max_sessions_per_account)?;
    audit::record(
        conn,
        &ctx,
        "auth.sign_in",
        &format!("user:{name}"),
        Outcome::Success,
        serde_json::json!({"next": stage.as_str()}),
    )?;
    Ok(Ok(SignedIn { token, session }))
}

/// Changes the password of the session's account and moves the session on.
pub fn change_password(
    conn: &mut DbConnection,
    cfg: &AuthSection,
    ctx: &AuditContext,
    s: &Session,
    current: &str,
    new: &str,
) -> AppResult<Result<Stage, AppError>> {
    let record = accounts::record_by_id(conn, &s.user_id)?;
    if !password::verify(current, &record.password_hash) {
        let locked = count_failure(conn, cfg, &record)?;
        audit::record(
            conn,
            ctx,
            "auth.change_password",
            &format!("user:{}", record.username),
            Outcome::Failure,
            serde_json::json!({"reason": "wrong_current_password", "locked": locked}),
        )?;
        if locked {
            session::end_all_for_user(conn, &s.user_id)?;
        }
        return Ok(Err(AppError::invalid("current_password", "当前密码不正确", "the current password is wrong")));
    }
    if let Err(e) = password::check_policy(&record.username, new) {
        return Ok(Err(e));
    }
    let recent: Vec<String> = password_history::table
        .filter(password_history::user_id.eq(&record.id))
        .order(password_history::created_at.desc())
        .limit(cfg.password_history as i64)
        .select(password_history::password_hash)
        .load(conn)?;
    if password::verify(new, &record.password_hash) || recent.iter().any(|h| password::verify(new, h)) {
        return Ok(Err(AppError::invalid(
            "new_password",
            format!("新密码不能与最近{}次使用过的密码相同", cfg.password_history),
            format!("the new password must differ from the last {} passwords", cfg.password_history),
        )));
    }
    let hash = password::hash(new)?;
    diesel::update(users::table.filter(users::id.eq(&record.id)))
        .set((
            users::password_hash.eq(&hash),
            users::must_change_password.eq(false),
            users::password_changed_at.eq(crate::db::now()),
            users::failed_attempts.eq(0),
        ))
        .execute(conn)?;
    accounts::remember_password(conn, &s.user_id, &hash)?;
    session::end_others(conn, &s.user_id, &s.id)?;
    let next = if s.stage == Stage::Active {
        Stage::Active
    } else {
        stage_after_change(conn, cfg, record.totp_enabled, &s.user_id)?
    };
    session::set_stage(conn, &s.id, next)?;
    audit::record(
        conn,
        ctx,
        "auth.change_password",
        &format!("user:{}", record.username),
        Outcome::Success,
        serde_json::json!({}),
    )?;
    Ok(Ok(next))
}

/// The secret and enrolment URI for an account in the TOTP enrolment stage (created on first
/// call and kept until confirmed).
pub fn totp_enrolment(
    conn: &mut DbConnection,
    sealer: &Sealer,
    s: &Session,
    issuer: &str,
) -> AppResult<(String, String)> {
    let record = accounts::record_by_id(conn, &s.user_id)?;
    if record.totp_enabled {
        return Err(AppError::conflict("双因子认证已启用", "TOTP is already enrolled"));
    }
    let secret = match record.totp_secret {
        Some(stored) => sealer.open(&stored)?,
        None => {
            let secret = totp::generate_secret();
            diesel::update(users::table.filter(users::id.eq(&record.id)))
                .set(users::totp_secret.eq(Some(sealer.seal(&secret)?)))
                .execute(conn)?;
            secret
        }
    };
    let uri = totp::enrolment_uri(&secret, &record.username, issuer)?;
    Ok((secret, uri))
}

/// Checks a TOTP code for a session in the enrolment or verification stage; on success the
/// session becomes active (and an enrolment is confirmed).
pub fn totp_submit(
    conn: &mut DbConnection,
    cfg: &AuthSection,
    sealer: &Sealer,
    ctx: &AuditContext,
    s: &Session,
    code: &str,
) -> AppResult<Result<(), AppError>> {
    let record = accounts::record_by_id(conn, &s.user_id)?;
    let enrolling = s.stage == Stage::TotpEnrol;
    let action = if enrolling { "auth.totp_enrol" } else { "auth.second_factor" };
    let Some(secret) = record.totp_secret.as_deref().map(|stored| sealer.open(stored)).transpose()? else {
        return Ok(Err(AppError::invalid("code", "尚未生成双因子密钥", "no TOTP secret has been issued")));
    };
    if record.locked_until.is_some_and(|t| t > crate::db::now()) {
        audit::record(
            conn,
            ctx,
            action,
            &format!("user:{}", record.username),
            Outcome::Failure,
            serde_json::json!({"reason": "locked"}),
        )?;
        return Ok(Err(failed()));
    }
    match totp::check(&secret, code, totp::unix_now(), record.totp_last_step)? {
        Some(step) => {
            diesel::update(users::table.filter(users::id.eq(&record.id)))
                .set((users::totp_enabled.eq(true), users::totp_last_step.eq(Some(step)), users::failed_attempts.eq(0)))
                .execute(conn)?;
            session::set_stage(conn, &s.id, Stage::Active)?;
            audit::record(
                conn,
                ctx,
                action,
                &format!("user:{}", record.username),
                Outcome::Success,
                serde_json::json!({}),
            )?;
            Ok(Ok(()))
        }
        None => {
            let locked = count_failure(conn, cfg, &record)?;
            if locked {
                session::end(conn, &s.id)?;
            }
            audit::record(
                conn,
                ctx,
                action,
                &format!("user:{}", record.username),
                Outcome::Failure,
                serde_json::json!({"reason": "wrong_code", "locked": locked}),
            )?;
            Ok(Err(AppError::invalid("code", "验证码不正确或已使用", "the code is wrong or was already used")))
        }
    }
}

/// Ends a session (sign-out) with its audit row.
pub fn sign_out(conn: &mut DbConnection, ctx: &AuditContext, s: &Session) -> AppResult<()> {
    session::end(conn, &s.id)?;
    audit::record(conn, ctx, "auth.sign_out", &format!("user:{}", ctx.actor), Outcome::Success, serde_json::json!({}))?;
    Ok(())
}
