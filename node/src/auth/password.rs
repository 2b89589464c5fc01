//! Passwords: argon2id hashing, the password policy and one-time passwords.
//!
//! Policy: at least 8 characters, from at least 3 of the classes lower case, upper case,
//! digits and symbols; not the user name (nor containing it); not one of the user's last
//! `password_history` passwords.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::Rng;

use crate::error::{AppError, AppResult};

/// Hashes a password with argon2id and a random salt (PHC string format).
pub fn hash(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(AppError::internal)
}

/// Whether `password` matches the stored PHC `hash`.
pub fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

/// A hash that verifies nothing, to spend the same time on unknown user names.
pub fn decoy_verify(password: &str) {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let decoy = DECOY.get_or_init(|| hash("decoy-password-never-used").unwrap_or_default());
    let _ = verify(password, decoy);
}

/// Checks the policy except history (which needs the database).
pub fn check_policy(username: &str, password: &str) -> AppResult<()> {
    if password.chars().count() < 8 {
        return Err(AppError::invalid(
            "new_password",
            "密码至少8个字符",
            "the password must have at least 8 characters",
        ));
    }
    if password.chars().count() > 128 {
        return Err(AppError::invalid(
            "new_password",
            "密码不能超过128个字符",
            "the password must have at most 128 characters",
        ));
    }
    let classes = [
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    if classes.iter().filter(|c| **c).count() < 3 {
        return Err(AppError::invalid(
            "new_password",
            "密码须包含小写字母、大写字母、数字、符号中的至少三类",
            "the password must mix at least 3 of: lower case, upper case, digits, symbols",
        ));
    }
    if password.to_lowercase().contains(&username.to_lowercase()) {
        return Err(AppError::invalid(
            "new_password",
            "密码不能包含用户名",
            "the password must not contain the user name",
        ));
    }
    Ok(())
}

/// A random one-time password that meets the policy (for `init` and resets).
pub fn generate_one_time() -> String {
    const LOWER: &[u8] = b"abcdefghijkmnpqrstuvwxyz";
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"23456789";
    const SYMBOLS: &[u8] = b"#%+=@";
    let mut rng = rand::thread_rng();
    let mut pick =
        |set: &[u8], n: usize| -> String { (0..n).map(|_| set[rng.gen_range(0..set.len())] as char).collect() };
    format!("{}{}-{}{}{}", pick(UPPER, 3), pick(LOWER, 4), pick(DIGITS, 4), pick(SYMBOLS, 1), pick(LOWER, 3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted() {
        let a = hash("Correct-Horse-9").expect("hash");
        let b = hash("Correct-Horse-9").expect("hash");
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$"));
        assert!(verify("Correct-Horse-9", &a));
        assert!(!verify("correct-horse-9", &a));
        assert!(!verify("x", "not a hash"));
    }

    #[test]
    fn policy() {
        assert!(check_policy("alice", "Short1!").is_err());
        assert!(check_policy("alice", "alllowercase").is_err());
        assert!(check_policy("alice", "lower-and-1").is_ok());
        assert!(check_policy("alice", "Alice-2024x").is_err(), "contains the user name");
        for _ in 0..20 {
            let p = generate_one_time();
            check_policy("sysadmin", &p).expect("generated passwords meet the policy");
        }
    }
}
