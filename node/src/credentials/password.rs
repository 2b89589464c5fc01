//! Passwords: argon2id hashing, the password policy and one-time passwords.
//!
//! Policy: at least 8 characters, from at least 3 of the classes lower case, upper case,
//! digits and symbols; no space at either end; at least 5 different characters; not the user
//! name (nor containing it); not built on a common or breached password (the list shipped in
//! `common-passwords.txt`, read through look-alike symbols and with digits and symbols at the
//! ends stripped, so `P@ssw0rd` and `Qwerty123` are refused); not one of the user's last
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
    if password.trim() != password {
        return Err(AppError::invalid(
            "new_password",
            "密码首尾不能是空格",
            "the password must not start or end with a space",
        ));
    }
    if password.chars().collect::<std::collections::BTreeSet<_>>().len() < 5 {
        return Err(AppError::invalid(
            "new_password",
            "密码至少要有5个不同的字符",
            "the password must have at least 5 different characters",
        ));
    }
    if is_common(password) {
        return Err(AppError::invalid(
            "new_password",
            "密码过于常见（基于常用或已泄露的密码），请换一个",
            "the password is built on a common or breached password; choose another",
        ));
    }
    Ok(())
}

/// The common bases, from the list shipped with the node.
fn common_bases() -> &'static std::collections::HashSet<&'static str> {
    static BASES: std::sync::OnceLock<std::collections::HashSet<&'static str>> = std::sync::OnceLock::new();
    BASES.get_or_init(|| {
        include_str!("common-passwords.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// Whether `password`, read as a person builds one (look-alike symbols, digits and symbols
/// padded at the ends), is a common base.
fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    let bases = common_bases();
    if bases.contains(lower.as_str()) {
        return true;
    }
    let plain = |one: char| -> String {
        lower
            .chars()
            .map(|c| match c {
                '@' | '4' => 'a',
                '0' => 'o',
                '1' | '!' | '|' => one,
                '3' => 'e',
                '$' | '5' => 's',
                '7' => 't',
                c => c,
            })
            .collect()
    };
    let padding = |c: char| !c.is_alphabetic();
    let strip_digits =
        |s: &str| -> String { s.trim_matches(|c: char| c.is_ascii_digit() || !c.is_alphanumeric()).to_owned() };
    [plain('l'), plain('i')]
        .iter()
        .map(|p| p.trim_matches(padding).to_owned())
        .chain(std::iter::once(strip_digits(&lower)))
        .any(|core| !core.is_empty() && bases.contains(core.as_str()))
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
        for common in ["P@ssw0rd", "Qwerty123", "Passw0rd!", "Admin@123", "Woaini1314!", "1qaz2wsx3edc", "Mima-123456"]
        {
            assert!(check_policy("alice", common).is_err(), "{common} is common");
        }
        assert!(check_policy("alice", "         A1a").is_err(), "leading spaces");
        assert!(check_policy("alice", "Tr4ce-R1ver-Lake").is_ok());
        assert!(check_policy("alice", "Aa1!Aa1!Aa1!").is_err(), "too few different characters");
        for _ in 0..20 {
            let p = generate_one_time();
            check_policy("sysadmin", &p).expect("generated passwords meet the policy");
        }
    }
}
