//! Throttling of sign-in attempts, kept in the database so every process of a node sees it.
//!
//! Two counters, each over a window of [`WINDOW_MINUTES`]:
//! - per **source address**: past [`ADDRESS_FREE_FAILURES`] failures (any account, known or
//!   not), the address must wait before its next attempt, 2 s doubling with each further
//!   failure up to [`ADDRESS_MAX_WAIT_SECONDS`]; attempts while it waits are refused at once
//!   (429 `sign_in_throttled`, with `Retry-After`) and cost no password check;
//! - per **account and address**: `auth.lockout_threshold` wrong passwords lock the account
//!   for `auth.lockout_minutes` **from that address only**, so an attacker who knows an
//!   administrator's name cannot lock its owner out from another machine.
//!
//! A success clears the account's counter for that address; an unlock or a password reset
//! clears every counter of the account.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use crate::config::AuthSection;
use crate::db::schema::sign_in_failures as f;
use crate::db::DbConnection;
use crate::error::AppResult;
use crate::ids::UserId;

/// Minutes over which failures are counted.
pub const WINDOW_MINUTES: i64 = 15;
/// Failures an address may make in the window before it must wait.
pub const ADDRESS_FREE_FAILURES: i32 = 10;
/// The longest wait imposed on an address.
pub const ADDRESS_MAX_WAIT_SECONDS: i64 = 900;

const ADDRESS: &str = "address";
const ACCOUNT: &str = "account";

fn account_subject(user: &UserId, ip: &str) -> String {
    format!("{user}@{ip}")
}

fn blocked_until(conn: &mut DbConnection, scope: &str, subject: &str) -> AppResult<Option<NaiveDateTime>> {
    Ok(f::table
        .filter(f::scope.eq(scope))
        .filter(f::subject.eq(subject))
        .select(f::blocked_until)
        .first::<Option<NaiveDateTime>>(conn)
        .optional()?
        .flatten()
        .filter(|t| *t > crate::db::now()))
}

/// Seconds the address must still wait, if it must.
pub fn address_wait(conn: &mut DbConnection, ip: &str) -> AppResult<Option<i64>> {
    Ok(blocked_until(conn, ADDRESS, ip)?.map(|t| (t - crate::db::now()).num_seconds().max(1)))
}

/// Whether the account is locked for sign-ins from `ip`.
pub fn account_locked(conn: &mut DbConnection, user: &UserId, ip: &str) -> AppResult<bool> {
    Ok(blocked_until(conn, ACCOUNT, &account_subject(user, ip))?.is_some())
}

/// Whether the account is locked from any address (for the console's account list).
pub fn locked_anywhere(conn: &mut DbConnection, user: &UserId) -> AppResult<bool> {
    let n: i64 = f::table
        .filter(f::scope.eq(ACCOUNT))
        .filter(f::subject.like(format!("{user}@%")))
        .filter(f::blocked_until.gt(crate::db::now()))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// The ids of the accounts locked from some address now.
pub fn locked_accounts(conn: &mut DbConnection) -> AppResult<std::collections::HashSet<String>> {
    let subjects: Vec<String> = f::table
        .filter(f::scope.eq(ACCOUNT))
        .filter(f::blocked_until.gt(crate::db::now()))
        .select(f::subject)
        .load(conn)?;
    Ok(subjects.into_iter().filter_map(|s| s.split_once('@').map(|(id, _)| id.to_owned())).collect())
}

/// Counts one failure of `scope`/`subject`; returns the failures in the window so far.
fn count(conn: &mut DbConnection, scope: &str, subject: &str) -> AppResult<i32> {
    let now = crate::db::now();
    let row: Option<(i32, NaiveDateTime)> = f::table
        .filter(f::scope.eq(scope))
        .filter(f::subject.eq(subject))
        .select((f::failures, f::first_at))
        .first(conn)
        .optional()?;
    let failures = match row {
        Some((n, first)) if now - first <= TimeDelta::minutes(WINDOW_MINUTES) => {
            diesel::update(f::table.filter(f::scope.eq(scope)).filter(f::subject.eq(subject)))
                .set(f::failures.eq(n + 1))
                .execute(conn)?;
            n + 1
        }
        Some(_) => {
            diesel::update(f::table.filter(f::scope.eq(scope)).filter(f::subject.eq(subject)))
                .set((f::failures.eq(1), f::first_at.eq(now)))
                .execute(conn)?;
            1
        }
        None => {
            diesel::insert_into(f::table)
                .values((f::scope.eq(scope), f::subject.eq(subject), f::failures.eq(1), f::first_at.eq(now)))
                .execute(conn)?;
            1
        }
    };
    Ok(failures)
}

fn block(conn: &mut DbConnection, scope: &str, subject: &str, until: NaiveDateTime) -> AppResult<()> {
    diesel::update(f::table.filter(f::scope.eq(scope)).filter(f::subject.eq(subject)))
        .set(f::blocked_until.eq(Some(until)))
        .execute(conn)?;
    Ok(())
}

/// What a failure led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Failure {
    /// The address must now wait this many seconds.
    pub address_waits: Option<i64>,
    /// The account is now locked for this address.
    pub account_locked: bool,
}

/// Counts a failed sign-in from `ip`, against the account too when the name was one.
pub fn failed(conn: &mut DbConnection, cfg: &AuthSection, user: Option<&UserId>, ip: &str) -> AppResult<Failure> {
    let now = crate::db::now();
    let mut outcome = Failure::default();
    let from_address = count(conn, ADDRESS, ip)?;
    if from_address > ADDRESS_FREE_FAILURES {
        let doublings = (from_address - ADDRESS_FREE_FAILURES).min(12) as u32;
        let wait = (2_i64 << doublings.saturating_sub(1)).min(ADDRESS_MAX_WAIT_SECONDS);
        block(conn, ADDRESS, ip, now + TimeDelta::seconds(wait))?;
        outcome.address_waits = Some(wait);
    }
    if let Some(user) = user {
        let subject = account_subject(user, ip);
        if count(conn, ACCOUNT, &subject)? >= cfg.lockout_threshold {
            block(conn, ACCOUNT, &subject, now + TimeDelta::minutes(cfg.lockout_minutes))?;
            diesel::update(f::table.filter(f::scope.eq(ACCOUNT)).filter(f::subject.eq(&subject)))
                .set(f::failures.eq(0))
                .execute(conn)?;
            outcome.account_locked = true;
        }
    }
    Ok(outcome)
}

/// A successful sign-in clears the account's counter for that address.
pub fn succeeded(conn: &mut DbConnection, user: &UserId, ip: &str) -> AppResult<()> {
    diesel::delete(f::table.filter(f::scope.eq(ACCOUNT)).filter(f::subject.eq(account_subject(user, ip))))
        .execute(conn)?;
    Ok(())
}

/// Clears every counter and lock of the account (unlock, password reset).
pub fn clear_account(conn: &mut DbConnection, user: &UserId) -> AppResult<()> {
    diesel::delete(f::table.filter(f::scope.eq(ACCOUNT)).filter(f::subject.like(format!("{user}@%")))).execute(conn)?;
    Ok(())
}
