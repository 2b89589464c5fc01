//! Webhook delivery: the event's JSON payload POSTed to the channel's URL, signed so the
//! receiver can trust it.
//!
//! Headers: `X-Tracenode-Topic` (e.g. `alert.opened`), `X-Tracenode-Delivery` (the
//! notification id: the same on every retry, so receivers can drop repeats),
//! `X-Tracenode-Node` (the sending node's region) and `X-Tracenode-Signature`
//! (`sha256=` and the hex HMAC-SHA256 of the body under the channel's secret). Any 2xx
//! answer is a delivery; anything else is retried.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Channel;

/// The signature header's value for `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// POSTs `payload` to the channel, at the address `targets` checked, following no redirect.
#[allow(clippy::too_many_arguments)]
pub async fn post(
    targets: &super::target::TargetPolicy,
    channel: &Channel,
    secret: Option<&str>,
    delivery: &str,
    topic: &str,
    node: &str,
    payload: &str,
) -> Result<(), String> {
    let (host, addr) = targets.resolve(&channel.target).await?;
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .resolve(&host, addr)
        .build()
        .map_err(|e| e.to_string())?;
    let mut req = http
        .post(&channel.target)
        .header("Content-Type", "application/json")
        .header("X-Tracenode-Topic", topic)
        .header("X-Tracenode-Delivery", delivery)
        .header("X-Tracenode-Node", node)
        .body(payload.to_owned());
    if let Some(secret) = secret {
        req = req.header("X-Tracenode-Signature", signature(secret, payload.as_bytes()));
    }
    let res = req.send().await.map_err(|e| format!("无法连接 / cannot reach: {e}"))?;
    if res.status().is_success() {
        Ok(())
    } else {
        Err(format!("对方返回 / answered HTTP {}", res.status().as_u16()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_matches_rfc_4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            super::signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
