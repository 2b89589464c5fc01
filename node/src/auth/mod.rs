//! Authentication (身份鉴别): the sign-in flow with TOTP, API keys, the CSRF check and the
//! gate in front of the API, and the extractors that turn a request into a
//! [`caller::Caller`]. The secrets it checks are kept by [`crate::credentials`].

pub mod api_key;
pub mod caller;
pub mod csrf;
pub mod gate;
pub mod signin;

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};

use crate::credentials::session;

/// The session cookie: HttpOnly, Secure, SameSite=Strict, whole site.
pub fn session_cookie(token: &str) -> Cookie<'static> {
    Cookie::build(session::COOKIE, token.to_owned())
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .path("/")
        .finish()
}

/// A cookie that removes the session cookie.
pub fn removal_cookie() -> Cookie<'static> {
    let mut c = session_cookie("");
    c.set_max_age(CookieDuration::ZERO);
    c
}

/// Where the browser goes for a session stage.
pub fn stage_path(stage: session::Stage) -> &'static str {
    match stage {
        session::Stage::PasswordChange => "/password",
        session::Stage::TotpEnrol | session::Stage::TotpVerify => "/totp",
        session::Stage::Active => "/",
    }
}
