//! TOTP second factor (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps, one step of skew).
//!
//! A code is accepted only for a time step later than the last accepted one, so an observed
//! code cannot be replayed.

use totp_rs::{Algorithm, Secret, TOTP};

use crate::error::{AppError, AppResult};

/// Seconds per time step.
pub const STEP_SECONDS: u64 = 30;

/// A fresh random secret, base32-encoded (160 bits).
pub fn generate_secret() -> String {
    let bytes: [u8; 20] = rand::random();
    match Secret::Raw(bytes.to_vec()).to_encoded() {
        Secret::Encoded(s) => s,
        Secret::Raw(_) => String::new(),
    }
}

fn totp(secret_b32: &str, account: &str, issuer: &str) -> AppResult<TOTP> {
    let bytes = Secret::Encoded(secret_b32.to_owned()).to_bytes().map_err(AppError::internal)?;
    let issuer = issuer.replace(':', " ");
    let account = account.replace(':', " ");
    TOTP::new(Algorithm::SHA1, 6, 1, STEP_SECONDS, bytes, Some(issuer), account).map_err(AppError::internal)
}

/// The `otpauth://` URI an authenticator app enrols from.
pub fn enrolment_uri(secret_b32: &str, account: &str, issuer: &str) -> AppResult<String> {
    Ok(totp(secret_b32, account, issuer)?.get_url())
}

/// The code for unix time `at` (used by tests and by operators checking clocks).
pub fn code_at(secret_b32: &str, at: u64) -> AppResult<String> {
    Ok(totp(secret_b32, "x", "tracenode")?.generate(at))
}

/// Checks `code` at unix time `now`; returns the accepted step if it is valid and later than
/// `last_step`.
pub fn check(secret_b32: &str, code: &str, now: u64, last_step: Option<i64>) -> AppResult<Option<i64>> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let t = totp(secret_b32, "x", "tracenode")?;
    let current = (now / STEP_SECONDS) as i64;
    for step in [current - 1, current, current + 1] {
        if last_step.is_some_and(|last| step <= last) || step < 0 {
            continue;
        }
        let expected = t.generate(step as u64 * STEP_SECONDS);
        if crate::keys::constant_time_eq(expected.as_bytes(), code.as_bytes()) {
            return Ok(Some(step));
        }
    }
    Ok(None)
}

/// Seconds since the unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_test_vector() {
        // RFC 6238 appendix B, SHA1, secret "12345678901234567890", T = 59 → 94287082 (8 digits);
        // with 6 digits the code is the last six: 287082.
        let secret = match Secret::Raw(b"12345678901234567890".to_vec()).to_encoded() {
            Secret::Encoded(s) => s,
            Secret::Raw(_) => unreachable!(),
        };
        assert_eq!(code_at(&secret, 59).expect("code"), "287082");
        assert_eq!(code_at(&secret, 1111111109).expect("code"), "081804");
    }

    #[test]
    fn replay_and_skew() {
        let s = generate_secret();
        let now = 1_700_000_000;
        let code = code_at(&s, now).expect("code");
        let step = check(&s, &code, now, None).expect("check").expect("accepted");
        assert_eq!(check(&s, &code, now, Some(step)).expect("check"), None, "replay refused");
        let old = code_at(&s, now - 90).expect("code");
        assert_eq!(check(&s, &old, now, None).expect("check"), None, "too old");
        assert_eq!(check(&s, "12345", now, None).expect("check"), None);
    }
}
