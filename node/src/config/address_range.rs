//! Address ranges in CIDR form (`10.1.0.0/16`, `fd00::/8`), as the configuration writes
//! them (`alerts.webhook_allowed_ranges`) and as the webhook guard checks addresses against
//! them.

use std::net::IpAddr;

/// A CIDR range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    base: IpAddr,
    prefix: u8,
}

impl Range {
    /// Parses `10.1.0.0/16`, `fd00::/8` or a single address.
    pub fn parse(text: &str) -> Option<Range> {
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, p.parse::<u8>().ok()?),
            None => {
                let a = text.trim().parse::<IpAddr>().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Range { base: addr, prefix })
    }

    /// Whether `ip` lies in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |a: IpAddr| -> (u128, u8) {
            match a {
                IpAddr::V4(v4) => (u32::from(v4) as u128, 32),
                IpAddr::V6(v6) => (u128::from(v6), 128),
            }
        };
        let ((base, width), (have, have_width)) = (bits(self.base), bits(canonical(ip)));
        if width != have_width {
            return false;
        }
        let shift = u32::from(width - self.prefix);
        shift >= 128 || (base >> shift) == (have >> shift)
    }
}

/// An IPv4 address written as IPv6 (`::ffff:127.0.0.1`) is that IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}
