//! Which language a page is shown in: `?lang=` first, then the cookie that an earlier
//! `?lang=` choice set, then the browser's `Accept-Language`, then the configured default.
//! Pure: imports nothing of the crate's other modules but the domain's own.

use super::Lang;

/// Where the choice came from; only an explicit `?lang=` sets the cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LangSource {
    Query,
    Cookie,
    AcceptLanguage,
    Default,
}

/// Picks the page language. Invalid values at one step fall through to the next.
pub fn negotiate(
    query: Option<&str>,
    cookie: Option<&str>,
    accept_language: Option<&str>,
    default: Lang,
) -> (Lang, LangSource) {
    if let Some(l) = query.and_then(|q| q.trim().parse::<Lang>().ok()) {
        return (l, LangSource::Query);
    }
    if let Some(l) = cookie.and_then(|c| c.trim().parse::<Lang>().ok()) {
        return (l, LangSource::Cookie);
    }
    if let Some(l) = accept_language.and_then(from_accept_language) {
        return (l, LangSource::AcceptLanguage);
    }
    (default, LangSource::Default)
}

/// The supported language the `Accept-Language` header ranks highest (RFC 9110 §12.5.4):
/// `ja-JP,ja;q=0.9,en;q=0.8` → ja. Ties go to the one listed first; `q=0` means "not this".
pub fn from_accept_language(header: &str) -> Option<Lang> {
    let mut best: Option<(Lang, u16)> = None;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or("").trim();
        let primary = tag
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let Ok(lang) = primary.parse::<Lang>() else {
            continue;
        };
        let mut q = 1000u16;
        for p in parts {
            if let Some(v) = p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")) {
                q = parse_q(v).unwrap_or(0);
            }
        }
        if q == 0 {
            continue;
        }
        if best.is_none_or(|(_, bq)| q > bq) {
            best = Some((lang, q));
        }
    }
    best.map(|(l, _)| l)
}

/// A qvalue (`0`, `0.8`, `1.000`) in thousandths.
fn parse_q(v: &str) -> Option<u16> {
    let v = v.trim();
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int: u16 = match int {
        "0" => 0,
        "1" => 1,
        _ => return None,
    };
    let mut thousandths = 0u16;
    for (i, b) in frac.bytes().enumerate() {
        thousandths += u16::from(b - b'0') * [100, 10, 1][i];
    }
    let q = int * 1000 + thousandths;
    (q <= 1000).then_some(q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_query_wins_then_the_cookie_then_the_header_then_the_default() {
        let h = Some("en-US,en;q=0.9");
        assert_eq!(
            negotiate(Some("ja"), Some("en"), h, Lang::En),
            (Lang::Ja, LangSource::Query)
        );
        assert_eq!(
            negotiate(None, Some("ja"), h, Lang::En),
            (Lang::Ja, LangSource::Cookie)
        );
        assert_eq!(
            negotiate(Some("fr"), Some("xx"), Some("ja"), Lang::En),
            (Lang::Ja, LangSource::AcceptLanguage)
        );
        assert_eq!(
            negotiate(None, None, Some("fr, de"), Lang::Ja),
            (Lang::Ja, LangSource::Default)
        );
    }

    #[test]
    fn accept_language_is_ranked_by_quality() {
        assert_eq!(
            from_accept_language("ja-JP,ja;q=0.9,en;q=0.8"),
            Some(Lang::Ja)
        );
        assert_eq!(
            from_accept_language("fr, en;q=0.5, ja;q=0.7"),
            Some(Lang::Ja)
        );
        assert_eq!(from_accept_language("ja;q=0, en;q=0.1"), Some(Lang::En));
        assert_eq!(from_accept_language("EN-gb"), Some(Lang::En));
        assert_eq!(from_accept_language("*"), None);
        assert_eq!(from_accept_language("ja;q=2"), None);
        assert_eq!(from_accept_language(""), None);
    }

    proptest! {
        #[test]
        fn negotiation_never_panics_and_a_valid_query_always_wins(
            q in proptest::option::of("[a-z]{0,3}"),
            c in proptest::option::of(".{0,8}"),
            h in proptest::option::of(".{0,40}"),
        ) {
            let (lang, src) = negotiate(q.as_deref(), c.as_deref(), h.as_deref(), Lang::En);
            if let Some(ql) = q.as_deref().and_then(|s| s.parse::<Lang>().ok()) {
                prop_assert_eq!((lang, src), (ql, LangSource::Query));
            }
        }

        #[test]
        fn the_highest_quality_supported_language_is_chosen(qja in 1u16..=1000, qen in 1u16..=1000) {
            let h = format!("en;q={}.{:03}, ja;q={}.{:03}", qen / 1000, qen % 1000, qja / 1000, qja % 1000);
            let want = if qja > qen { Lang::Ja } else { Lang::En };
            prop_assert_eq!(from_accept_language(&h), Some(want));
        }
    }
}
