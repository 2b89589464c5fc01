//! Where a webhook may point. By default only at public addresses over HTTPS: a node sits
//! inside a government network, and a webhook aimed at `127.0.0.1`, `169.254.169.254`, a
//! private range or plain `http://` would let whoever configures channels probe or call what
//! lies behind the node's firewall. An operator who runs a receiver on such an address allows
//! its range (`alerts.webhook_allowed_ranges`, CIDR); plain HTTP is then allowed to it too.
//!
//! Checked twice: when a channel is made (an address written in the URL) and at each delivery,
//! after the name is resolved; the delivery then connects to exactly the address checked (no
//! second lookup that a hostile DNS server could answer differently) and follows no redirect.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::config::address_range::canonical;
pub use crate::config::address_range::Range;

/// Whether `ip` is an address a webhook may not reach unless allowed: loopback, private,
/// link-local (cloud metadata), shared, unspecified, multicast, broadcast, documentation.
pub fn is_internal(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || v4 == Ipv4Addr::new(192, 0, 0, 0)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || v6 == Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0)
        }
    }
}

/// The node's rule for webhook targets.
#[derive(Debug, Clone, Default)]
pub struct TargetPolicy {
    allowed: Vec<Range>,
}

/// Why a target is refused: Chinese and English.
pub type Refusal = (String, String);

impl TargetPolicy {
    /// The policy of `alerts.webhook_allowed_ranges` (already validated by the configuration).
    pub fn new(ranges: &[String]) -> TargetPolicy {
        TargetPolicy { allowed: ranges.iter().filter_map(|r| Range::parse(r)).collect() }
    }

    fn allowed(&self, ip: IpAddr) -> bool {
        self.allowed.iter().any(|r| r.contains(ip))
    }

    /// Whether one resolved address may be called, with the URL's scheme.
    pub fn check_address(&self, ip: IpAddr, https: bool) -> Result<(), Refusal> {
        if self.allowed(ip) {
            return Ok(());
        }
        if is_internal(ip) {
            return Err((
                format!("回调地址 {ip} 是内网、回环或链路本地地址；如确需使用，请运维人员在 alerts.webhook_allowed_ranges 中放行"),
                format!("{ip} is an internal, loopback or link-local address; an operator may allow its range in alerts.webhook_allowed_ranges"),
            ));
        }
        if !https {
            return Err((
                "回调地址须使用 https://".into(),
                "a webhook must use https:// (plain http only to an allowed range)".into(),
            ));
        }
        Ok(())
    }

    /// Checks a URL as written, when a channel is made.
    pub fn check_url(&self, target: &str) -> Result<(), Refusal> {
        let bad = || (format!("“{target}”不是有效的 http(s) 地址"), format!("{target:?} is not an http(s) URL"));
        let url = reqwest::Url::parse(target).map_err(|_| bad())?;
        if !matches!(url.scheme(), "http" | "https") || url.password().is_some() {
            return Err(bad());
        }
        let https = url.scheme() == "https";
        match url.host() {
            Some(url::Host::Ipv4(v4)) => self.check_address(IpAddr::V4(v4), https),
            Some(url::Host::Ipv6(v6)) => self.check_address(IpAddr::V6(v6), https),
            Some(url::Host::Domain(name)) => {
                let lower = name.to_ascii_lowercase();
                if lower == "localhost" || lower.ends_with(".localhost") {
                    return self.check_address(IpAddr::V4(Ipv4Addr::LOCALHOST), https);
                }
                if !https {
                    return Err((
                        "回调地址须使用 https://".into(),
                        "a webhook must use https:// (plain http only to an allowed range written as an address)"
                            .into(),
                    ));
                }
                Ok(())
            }
            None => Err(bad()),
        }
    }

    /// Resolves a URL's host at delivery and checks every address; returns the host and the
    /// address to connect to.
    pub async fn resolve(&self, target: &str) -> Result<(String, SocketAddr), String> {
        let url = reqwest::Url::parse(target).map_err(|e| e.to_string())?;
        let host = url.host_str().ok_or("no host")?.trim_matches(['[', ']']).to_owned();
        let port = url.port_or_known_default().ok_or("no port")?;
        let https = url.scheme() == "https";
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| format!("无法解析 / cannot resolve {host}: {e}"))?
            .collect();
        let first = *addrs.first().ok_or_else(|| format!("{host} has no address"))?;
        for a in &addrs {
            self.check_address(a.ip(), https).map_err(|(zh, en)| format!("{zh} / {en}"))?;
        }
        Ok((host, first))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_targets_are_refused_unless_allowed() {
        let strict = TargetPolicy::default();
        for url in [
            "http://127.0.0.1:8080/hook",
            "https://127.0.0.1/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://10.1.2.3/x",
            "https://192.168.1.1/x",
            "https://[::1]/x",
            "https://[fd00::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://localhost/x",
            "http://hooks.example.com/x",
            "ftp://hooks.example.com/x",
        ] {
            assert!(strict.check_url(url).is_err(), "{url}");
        }
        assert!(strict.check_url("https://hooks.example.com/x").is_ok());
        assert!(strict.check_url("https://8.8.8.8/x").is_ok());
        let allowing = TargetPolicy::new(&["127.0.0.0/8".into(), "10.20.0.0/16".into()]);
        assert!(allowing.check_url("http://127.0.0.1:8080/hook").is_ok());
        assert!(allowing.check_url("https://10.20.3.4/x").is_ok());
        assert!(allowing.check_url("https://10.21.3.4/x").is_err());
        assert!(Range::parse("10.0.0.0/33").is_none());
        assert!(Range::parse("::/0").expect("all").contains("2001:db8::1".parse().expect("ip")));
    }
}
