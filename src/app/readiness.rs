//! Is this configuration fit to send real mail? (issue 16). A first deployment tried as a new
//! user would try it sent from `newsletter@example.org` with `http://127.0.0.1:8080/…` links
//! and "configuration OK". When mail would really go out (`smtp.url` set), each of these is a
//! problem that `kairan check` names (exit 78): a From address on a reserved example domain
//! (example.org / .com / .net, RFC 2606: rejected or junked by receivers), an `http.base_url`
//! on a loopback host (every confirm and unsubscribe link would point at the reader's own
//! machine), and an incomplete legal footer (Japan's Specified Email Act). A base URL that is
//! not https is a warning (a proxy may still terminate TLS in front of a plain-http URL only
//! by mistake: links in mail are what readers click). The console's health panel uses the
//! same findings.
//!
//! Pure: depends on the settings only.

use crate::config::Settings;

/// What [`assess`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Readiness {
    /// Mail would really be sent (`smtp.url` is set): problems then block (exit 78).
    pub sends_mail: bool,
    /// Each problem, naming the setting.
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
}

/// The domains reserved for documentation (RFC 2606), and their subdomains.
pub fn is_example_domain(domain: &str) -> bool {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    ["example.org", "example.com", "example.net", "example"]
        .iter()
        .any(|e| d == *e || d.ends_with(&format!(".{e}")))
}

/// A host that only ever means the machine itself.
pub fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback() || ip.is_unspecified(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback() || ip.is_unspecified(),
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        None => true,
    }
}

/// The legal footer's empty settings, each named.
pub fn legal_footer_problems(settings: &Settings) -> Vec<String> {
    settings
        .newsletter
        .missing_legal_settings()
        .into_iter()
        .map(|key| {
            format!("{key}: is empty; issues cannot be queued until the legal footer is complete")
        })
        .collect()
}

/// Assesses `settings` for sending real mail.
pub fn assess(settings: &Settings) -> Readiness {
    let sends_mail = settings.smtp.url.is_some();
    let mut r = Readiness {
        sends_mail,
        problems: legal_footer_problems(settings),
        warnings: Vec::new(),
    };
    let base = &settings.http.base_url;
    if sends_mail {
        let from = &settings.newsletter.from.address;
        if is_example_domain(from.domain()) {
            r.problems.push(format!(
                "newsletter.from: `{from}` is on a reserved example domain (example.org, .com, \
                 .net); receivers reject or junk its mail: use your organisation's address"
            ));
        }
        if is_loopback_host(base) {
            r.problems.push(format!(
                "http.base_url: `{base}` is a loopback address; the confirm and unsubscribe \
                 links in mail would point at each reader's own machine: set the public URL"
            ));
        }
    }
    if base.scheme() != "https" {
        r.warnings.push(format!(
            "http.base_url: `{base}` is not https; readers' links (confirm, unsubscribe, \
             preferences) should use TLS (see docs/operating.md, \"TLS behind a proxy\")"
        ));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_domains_and_loopback_hosts() {
        for d in ["example.org", "EXAMPLE.COM", "news.example.net", "example"] {
            assert!(is_example_domain(d), "{d}");
        }
        for d in ["example.jp", "myexample.org", "kairan.org"] {
            assert!(!is_example_domain(d), "{d}");
        }
        for u in [
            "http://127.0.0.1:8080/",
            "http://localhost/",
            "http://[::1]/",
            "http://0.0.0.0:9000/",
            "https://app.localhost/",
        ] {
            assert!(is_loopback_host(&u.parse().unwrap()), "{u}");
        }
        assert!(!is_loopback_host(&"https://news.ngo.jp/".parse().unwrap()));
    }
}
