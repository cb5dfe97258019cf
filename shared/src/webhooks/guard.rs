//! The SSRF guard. A delivery may only reach public addresses: the check runs on the
//! addresses a name resolves to at connect time (the connection uses only those that pass),
//! so a name that later points inside — DNS rebinding, a record changed after the URL was
//! saved — still cannot reach loopback, private networks or the cloud metadata service.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()            // 0.0.0.0
        || a == 0                  // "this network"
        || ip.is_loopback()        // 127/8
        || ip.is_private()         // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local()      // 169.254/16, including the metadata service 169.254.169.254
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 192 && b == 0 && c == 0)       // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)       // TEST-NET-1
        || (a == 198 && (b == 18 || b == 19))   // benchmarking
        || (a == 198 && b == 51 && c == 100)    // TEST-NET-2
        || (a == 203 && b == 0 && c == 113)     // TEST-NET-3
        || ip.is_multicast()       // 224/4
        || a >= 240 // reserved and broadcast
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4); // ::ffff:a.b.c.d
    }
    let seg = ip.segments();
    if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0, 0, 0, 0] {
        // NAT64 (64:ff9b::/96) reaches the IPv4 address it embeds.
        let [a, b] = seg[6].to_be_bytes();
        let [c, d] = seg[7].to_be_bytes();
        return forbidden_v4(Ipv4Addr::new(a, b, c, d));
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7 (AWS metadata fd00:ec2::254 too)
        || (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (seg[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated, still routed inside some networks)
        || seg[0] == 0x2002 // 6to4 2002::/16: a relay forwards to the IPv4 address it embeds
        || (seg[0] == 0x64 && seg[1] == 0xff9b && seg[2] == 1) // local-use NAT64 64:ff9b:1::/48 (RFC 8215)
        || ip.is_multicast()
        || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
        || (seg[0..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible (deprecated) ::a.b.c.d
}

/// Whether a delivery may not connect to `ip`.
pub fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

/// Checks a webhook URL as it is saved and again before each attempt: `https://` (or
/// `http://` when private targets are allowed, for development), a host, no credentials,
/// and no literal address that is off limits.
pub fn check_url(raw: &str, allow_private: bool) -> Result<Url, String> {
    if raw.len() > 2048 {
        return Err("url is longer than 2048 characters".into());
    }
    let url = Url::parse(raw.trim()).map_err(|e| format!("url is not a valid URL ({e})"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err("url must start with https://".into()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("url must not contain credentials".into());
    }
    let host = url.host().ok_or("url has no host")?;
    if !allow_private {
        let literal = match host {
            url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
            url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
            url::Host::Domain(d) if d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost") => {
                return Err("url must not point at this machine".into())
            }
            url::Host::Domain(_) => None,
        };
        if literal.is_some_and(forbidden) {
            return Err("url points at a private, loopback, link-local or otherwise reserved address".into());
        }
    }
    Ok(url)
}

/// Name resolution, injected so tests can make a name resolve anywhere.
#[async_trait]
pub trait Lookup: Send + Sync {
    async fn lookup(&self, host: &str) -> io::Result<Vec<IpAddr>>;
}

pub struct SystemLookup;

#[async_trait]
impl Lookup for SystemLookup {
    async fn lookup(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        Ok(tokio::net::lookup_host((host, 0)).await?.map(|a| a.ip()).collect())
    }
}

/// The resolver every delivery connects through: it hands the connector only allowed
/// addresses, so what is checked is what is connected to.
pub struct GuardedResolver {
    pub lookup: Arc<dyn Lookup>,
    pub allow_private: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("{host} resolves only to addresses deliveries may not reach")]
pub struct Blocked {
    pub host: String,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let (lookup, allow_private, host) = (self.lookup.clone(), self.allow_private, name.as_str().to_string());
        Box::pin(async move {
            let ips = lookup.lookup(&host).await?;
            let allowed: Vec<SocketAddr> = ips
                .into_iter()
                .filter(|ip| allow_private || !forbidden(*ip))
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(Blocked { host }) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}
