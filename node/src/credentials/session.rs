//! Server-side sessions of console users.
//!
//! The cookie carries a random token; the database keeps only its SHA-256, so a leaked
//! database does not leak live sessions. A session has a stage: it is `active` only after the
//! one-time password is changed and the second factor is passed. Sessions end on sign-out, on
//! password reset or account disable, and after the configured idle time.

use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::schema::sessions;
use crate::db::DbConnection;
use crate::error::AppResult;
use crate::ids::UserId;

/// The cookie that carries the session token.
pub const COOKIE: &str = "tn_session";

/// Where a session stands in the sign-in flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The one-time password must be changed.
    PasswordChange,
    /// TOTP must be enrolled (administrators).
    TotpEnrol,
    /// A TOTP code must be entered.
    TotpVerify,
    /// Fully signed in.
    Active,
}

impl Stage {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::PasswordChange => "password_change",
            Stage::TotpEnrol => "totp_enrol",
            Stage::TotpVerify => "totp_verify",
            Stage::Active => "active",
        }
    }

    /// Parses the stored form; anything unknown is treated as the first stage.
    pub fn parse(s: &str) -> Stage {
        match s {
            "totp_enrol" => Stage::TotpEnrol,
            "totp_verify" => Stage::TotpVerify,
            "active" => Stage::Active,
            _ => Stage::PasswordChange,
        }
    }
}

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    /// SHA-256 of the token (the row id).
    pub id: String,
    /// The account.
    pub user_id: UserId,
    /// The CSRF token forms and API calls must echo.
    pub csrf_token: String,
    /// Stage in the sign-in flow.
    pub stage: Stage,
    /// Last request time.
    pub last_seen_at: chrono::NaiveDateTime,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The row id of a token.
pub fn token_id(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Starts a session, ending the account's oldest live ones beyond `max_live` (counting the new
/// one); returns the token for the cookie and the session.
pub fn start(
    conn: &mut DbConnection,
    user: &UserId,
    stage: Stage,
    ip: &str,
    max_live: usize,
) -> AppResult<(String, Session)> {
    let token = random_token();
    let now = crate::db::now();
    let session =
        Session { id: token_id(&token), user_id: user.clone(), csrf_token: random_token(), stage, last_seen_at: now };
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(&session.id),
            sessions::user_id.eq(user.as_str()),
            sessions::csrf_token.eq(&session.csrf_token),
            sessions::stage.eq(stage.as_str()),
            sessions::source_ip.eq(ip),
            sessions::created_at.eq(now),
            sessions::last_seen_at.eq(now),
        ))
        .execute(conn)?;
    let live: Vec<String> = sessions::table
        .filter(sessions::user_id.eq(user.as_str()))
        .filter(sessions::ended_at.is_null())
        .order((sessions::created_at.desc(), sessions::id.desc()))
        .select(sessions::id)
        .load(conn)?;
    let beyond: Vec<&String> = live.iter().filter(|id| **id != session.id).skip(max_live.saturating_sub(1)).collect();
    if !beyond.is_empty() {
        diesel::update(sessions::table.filter(sessions::id.eq_any(beyond)))
            .set(sessions::ended_at.eq(Some(now)))
            .execute(conn)?;
    }
    Ok((token, session))
}

/// Finds the live session of `token`, ending it if it has been idle too long, and records the
/// request time.
pub fn resume(conn: &mut DbConnection, token: &str, idle_minutes: i64) -> AppResult<Option<Session>> {
    let id = token_id(token);
    let row: Option<(String, String, String, String, chrono::NaiveDateTime)> = sessions::table
        .filter(sessions::id.eq(&id))
        .filter(sessions::ended_at.is_null())
        .select((sessions::id, sessions::user_id, sessions::csrf_token, sessions::stage, sessions::last_seen_at))
        .first(conn)
        .optional()?;
    let Some((id, user, csrf, stage, last_seen)) = row else { return Ok(None) };
    let now = crate::db::now();
    if now - last_seen > chrono::TimeDelta::minutes(idle_minutes) {
        end(conn, &id)?;
        return Ok(None);
    }
    // Touch at most every 15 seconds: enough precision for a 30-minute timeout, fewer writes.
    if now - last_seen > chrono::TimeDelta::seconds(15) {
        diesel::update(sessions::table.filter(sessions::id.eq(&id)))
            .set(sessions::last_seen_at.eq(now))
            .execute(conn)?;
    }
    Ok(Some(Session {
        id,
        user_id: UserId::from_db(user),
        csrf_token: csrf,
        stage: Stage::parse(&stage),
        last_seen_at: now,
    }))
}

/// The CSRF token of the live session of `token`, without touching it (the CSRF middleware's
/// read; idle expiry is the authenticating handler's to enforce).
pub fn csrf_of(conn: &mut DbConnection, token: &str) -> AppResult<Option<String>> {
    Ok(sessions::table
        .filter(sessions::id.eq(token_id(token)))
        .filter(sessions::ended_at.is_null())
        .select(sessions::csrf_token)
        .first(conn)
        .optional()?)
}

/// Moves a session to another stage.
pub fn set_stage(conn: &mut DbConnection, id: &str, stage: Stage) -> AppResult<()> {
    diesel::update(sessions::table.filter(sessions::id.eq(id)))
        .set(sessions::stage.eq(stage.as_str()))
        .execute(conn)?;
    Ok(())
}

/// Ends one session (sign-out).
pub fn end(conn: &mut DbConnection, id: &str) -> AppResult<()> {
    diesel::update(sessions::table.filter(sessions::id.eq(id)))
        .set(sessions::ended_at.eq(Some(crate::db::now())))
        .execute(conn)?;
    Ok(())
}

/// Ends every session of an account except `keep`.
pub fn end_others(conn: &mut DbConnection, user: &UserId, keep: &str) -> AppResult<()> {
    diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user.as_str()))
            .filter(sessions::id.ne(keep))
            .filter(sessions::ended_at.is_null()),
    )
    .set(sessions::ended_at.eq(Some(crate::db::now())))
    .execute(conn)?;
    Ok(())
}

/// Ends every session of an account.
pub fn end_all_for_user(conn: &mut DbConnection, user: &UserId) -> AppResult<()> {
    diesel::update(sessions::table.filter(sessions::user_id.eq(user.as_str())).filter(sessions::ended_at.is_null()))
        .set(sessions::ended_at.eq(Some(crate::db::now())))
        .execute(conn)?;
    Ok(())
}
