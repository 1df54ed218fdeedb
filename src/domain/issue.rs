//! Issues: one month's newsletter, its two languages' content, and the rule for its slug (the
//! short name in archive URLs). Pure: imports nothing of the crate's other modules but the
//! domain's own. The rules for the content itself (subject length, absolute links, what
//! ISO-2022-JP can carry) need the Markdown reader and live with the editorial use case.

use chrono::{DateTime, Utc};

use super::ids::IssueId;
use super::status::{IssueState, Lang};

/// One language's text of an issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueContent {
    pub subject: String,
    pub preheader: Option<String>,
    pub markdown: String,
}

/// An issue to be stored.
#[derive(Debug, Clone)]
pub struct NewIssue {
    pub slug: String,
    pub state: IssueState,
    pub send_at: Option<DateTime<Utc>>,
    pub ja: IssueContent,
    pub en: IssueContent,
    pub now: DateTime<Utc>,
}

/// A stored issue with both languages' content.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub id: IssueId,
    pub slug: String,
    pub state: IssueState,
    pub send_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub ja: IssueContent,
    pub en: IssueContent,
}

impl Issue {
    pub fn content(&self, lang: Lang) -> &IssueContent {
        match lang {
            Lang::Ja => &self.ja,
            Lang::En => &self.en,
        }
    }
}

/// The longest slug, in characters.
pub const SLUG_MAX_CHARS: usize = 64;

/// A slug is 1–64 characters of a-z, 0-9 and `-`, starting with a letter or digit: it goes
/// into URLs (`/archive/2026-12`) as it is.
pub fn valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= SLUG_MAX_CHARS
        && slug.as_bytes()[0].is_ascii_alphanumeric()
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn slugs_are_lowercase_words() {
        assert!(valid_slug("2026-12"));
        assert!(!valid_slug("2026/12"));
        assert!(!valid_slug("-x"));
        assert!(!valid_slug("Dec"));
        assert!(!valid_slug(""));
        assert!(valid_slug(&"a".repeat(64)));
        assert!(!valid_slug(&"a".repeat(65)));
    }

    #[test]
    fn content_is_picked_by_language() {
        let c = |s: &str| IssueContent {
            subject: s.into(),
            preheader: None,
            markdown: String::new(),
        };
        let now = Utc::now();
        let issue = Issue {
            id: IssueId::new(1),
            slug: "x".into(),
            state: IssueState::Draft,
            send_at: None,
            created_at: now,
            updated_at: now,
            started_at: None,
            finished_at: None,
            ja: c("十二月号"),
            en: c("December"),
        };
        assert_eq!(issue.content(Lang::Ja).subject, "十二月号");
        assert_eq!(issue.content(Lang::En).subject, "December");
    }

    proptest! {
        #[test]
        fn an_accepted_slug_is_safe_in_a_url_path(slug in "[a-z0-9/ .A-Z-]{0,70}") {
            if valid_slug(&slug) {
                prop_assert!(slug.len() <= SLUG_MAX_CHARS);
                prop_assert!(!slug.starts_with('-'));
                prop_assert!(slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            }
        }

        #[test]
        fn lowercase_words_joined_by_hyphens_are_slugs(words in proptest::collection::vec("[a-z0-9]{1,8}", 1..5)) {
            let slug = words.join("-");
            prop_assume!(slug.len() <= SLUG_MAX_CHARS);
            prop_assert!(valid_slug(&slug));
        }
    }
}
