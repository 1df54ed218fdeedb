//! Console accounts (issue 14): roles and what each may do, the account as the use cases see
//! it, the password rule, audit entries and send requests. Pure: the clock and every random
//! value come in as parameters.

use chrono::{DateTime, Utc};

use super::email::EmailAddress;
use super::status::text_enum;

text_enum!(
    /// The role ladder: an editor drafts, an admin also sends and manages.
    Role, "role", { Admin => "admin", Editor => "editor" }
);

/// A thing a person may ask the console, the API or the command line to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Draft, edit, preview and test-send issues; ask for an issue to be sent.
    EditIssues,
    /// Start, schedule, pause and cancel campaigns; approve another's send request.
    SendIssues,
    ManageSubscribers,
    ManageBounces,
    ManageUsers,
    ViewAudit,
}

impl Role {
    /// Whether this role may do `action`. Everything an editor may, an admin may too.
    pub fn allows(self, action: Action) -> bool {
        match self {
            Role::Admin => true,
            Role::Editor => matches!(action, Action::EditIssues),
        }
    }
}

/// A console account as stored, without its secrets.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct User {
    pub id: i64,
    pub email: EmailAddress,
    pub name: Option<String>,
    pub role: Role,
    /// The account has a password (its setup link was used).
    pub active: bool,
    pub disabled: bool,
    pub totp: bool,
    pub created_at: DateTime<Utc>,
}

impl User {
    /// The name to show: the name, else the address.
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| self.email.as_str().to_owned())
    }

    /// `invited`, `active` or `disabled`.
    pub fn state(&self) -> &'static str {
        if self.disabled {
            "disabled"
        } else if self.active {
            "active"
        } else {
            "invited"
        }
    }
}

/// The shortest password accepted.
pub const PASSWORD_MIN_CHARS: usize = 12;
/// The longest (Argon2 takes any length, but a megabyte of password is an attack).
pub const PASSWORD_MAX_CHARS: usize = 1024;

/// Why a password is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must have at least 12 characters")]
    TooShort,
    #[error("the password is too long")]
    TooLong,
    #[error("the password is a common one")]
    Common,
    #[error("the two passwords differ")]
    Mismatch,
}

impl PasswordError {
    /// The Fluent message id that explains it (`locales/*/console.ftl`).
    pub fn message_id(self) -> &'static str {
        match self {
            PasswordError::TooShort => "console-password-too-short",
            PasswordError::TooLong => "console-password-too-long",
            PasswordError::Common => "console-password-common",
            PasswordError::Mismatch => "console-password-mismatch",
        }
    }
}

/// Common passwords and their stems (built in, `common_passwords.txt`: kairan's stems and
/// zxcvbn's 10,000 most frequent passwords, MIT License; see its header).
static COMMON: &str = include_str!("common_passwords.txt");

/// The list as a set, built once.
fn common_set() -> &'static std::collections::HashSet<&'static str> {
    static SET: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    SET.get_or_init(|| {
        COMMON
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// `s` with simple leetspeak undone (`p@55w0rd` → `password`); `one` is what `1` and `!`
/// stand for (`i` or `l`, both are tried). `None` when nothing changed.
fn unleet(s: &str, one: char) -> Option<String> {
    let out: String = s
        .chars()
        .map(|c| match c {
            '0' => 'o',
            '1' | '!' | '|' => one,
            '3' => 'e',
            '4' | '@' => 'a',
            '5' | '$' => 's',
            '7' => 't',
            '8' => 'b',
            '9' => 'g',
            '+' => 't',
            other => other,
        })
        .collect();
    (out != s).then_some(out)
}

/// Whether `password` is a common one: on the built-in list (case-insensitively), or a listed
/// stem with digits and punctuation around it (`password1234!`), or so once simple
/// leetspeak is undone (`P@ssw0rd2024`), or one character repeated, or a run of a keyboard
/// row or of digits.
pub fn is_common_password(password: &str) -> bool {
    let lower = password.to_lowercase();
    let trim = |s: &str| -> String {
        s.trim_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation() || c == ' ')
            .to_owned()
    };
    let stem = trim(&lower);
    let set = common_set();
    let listed = |s: &str| !s.is_empty() && set.contains(s);
    if listed(&lower) || listed(&stem) {
        return true;
    }
    // Leetspeak: undo it in the whole password (`p@55w0rd`) and in the stem (the digits
    // around it are a suffix, the ones inside are letters: `dr4g0n2024!`).
    // (a leading `$` or `@` is a letter: only the suffix is trimmed for that one).
    let suffixless = lower
        .trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation() || c == ' ')
        .to_owned();
    for one in ['i', 'l'] {
        for s in [&lower, &stem, &suffixless] {
            if let Some(u) = unleet(s, one)
                && (listed(&u) || listed(&trim(&u)))
            {
                return true;
            }
        }
    }
    let stem = stem.as_str();
    // Only digits and punctuation (a date, 123456789012), or one character repeated.
    if stem.is_empty() {
        return true;
    }
    let mut chars = lower.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return true;
    }
    // Runs along a keyboard row or the alphabet, forwards or backwards.
    const RUNS: [&str; 5] = [
        "1234567890",
        "qwertyuiop",
        "asdfghjkl",
        "zxcvbnm",
        "abcdefghijklmnopqrstuvwxyz",
    ];
    let compact: String = stem.chars().filter(|c| c.is_alphanumeric()).collect();
    compact.len() >= 4
        && RUNS.iter().any(|run| {
            let rev: String = run.chars().rev().collect();
            let doubled = format!("{run}{run}");
            let doubled_rev = format!("{rev}{rev}");
            doubled.contains(&compact) || doubled_rev.contains(&compact)
        })
}

/// Checks a new password against the rule: 12 characters at least, not common, typed the
/// same twice.
pub fn check_new_password(password: &str, confirm: &str) -> Result<(), PasswordError> {
    let n = password.chars().count();
    if n < PASSWORD_MIN_CHARS {
        return Err(PasswordError::TooShort);
    }
    if n > PASSWORD_MAX_CHARS {
        return Err(PasswordError::TooLong);
    }
    if is_common_password(password) {
        return Err(PasswordError::Common);
    }
    if password != confirm {
        return Err(PasswordError::Mismatch);
    }
    Ok(())
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub user_id: Option<i64>,
    /// The person's address as it was (or `cli`, or what was typed at a failed login).
    pub actor: String,
    pub ip: Option<String>,
    pub action: String,
    pub object: String,
    pub detail: String,
}

/// An audit line to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAudit {
    pub at: DateTime<Utc>,
    pub user_id: Option<i64>,
    pub actor: String,
    pub ip: Option<String>,
    pub action: &'static str,
    pub object: String,
    pub detail: String,
}

text_enum!(
    /// Where a request to send an issue is.
    SendRequestState, "send request state", {
        Pending => "pending",
        Approved => "approved",
        Withdrawn => "withdrawn"
    }
);

/// A request to send an issue (`console.require_approval`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SendRequest {
    pub id: i64,
    pub issue_id: i64,
    pub requested_by: i64,
    pub requested_at: DateTime<Utc>,
    pub state: SendRequestState,
    pub decided_by: Option<i64>,
    pub decided_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_editor_edits_and_only_an_admin_sends_and_manages() {
        assert!(Role::Editor.allows(Action::EditIssues));
        for a in [
            Action::SendIssues,
            Action::ManageSubscribers,
            Action::ManageBounces,
            Action::ManageUsers,
            Action::ViewAudit,
        ] {
            assert!(!Role::Editor.allows(a), "{a:?}");
            assert!(Role::Admin.allows(a), "{a:?}");
        }
        assert_eq!("editor".parse::<Role>().unwrap(), Role::Editor);
        assert!("owner".parse::<Role>().is_err());
    }

    #[test]
    fn short_common_and_mismatched_passwords_are_refused() {
        assert_eq!(
            check_new_password("short", "short"),
            Err(PasswordError::TooShort)
        );
        for common in [
            "password1234",
            "Password123!",
            "qwertyuiop12",
            "123456789012",
            "aaaaaaaaaaaa",
            "iloveyou2024!!",
            "  letmein!!!!",
            "zyxwvutsrqpo",
        ] {
            assert_eq!(
                check_new_password(common, common),
                Err(PasswordError::Common),
                "{common}"
            );
        }
        assert_eq!(
            check_new_password("hoshi-no-kairan-7", "hoshi-no-kairan-8"),
            Err(PasswordError::Mismatch)
        );
        assert_eq!(
            check_new_password("hoshi-no-kairan-7", "hoshi-no-kairan-7"),
            Ok(())
        );
        // Twelve Japanese characters are twelve characters.
        assert_eq!(
            check_new_password(
                "春の回覧板を皆で読みましょう",
                "春の回覧板を皆で読みましょう"
            ),
            Ok(())
        );
    }

    #[test]
    fn the_embedded_list_is_ten_thousand_real_passwords_checked_with_leetspeak_and_suffixes() {
        assert!(common_set().len() >= 10_000, "{}", common_set().len());
        // From zxcvbn's top 10,000 (the first four only there, ranked past 7,000), each
        // padded to 12 characters with digits or punctuation, in any case, with leetspeak.
        for common in [
            "snowflake2024",
            "FIRESTAR!!!!",
            "g@t1t0123456",
            "irisha-2026!",
            "P@ssw0rd2024",
            "dr4g0n123456",
            "$unshine2025!",
            "baseball!!!!",
            "m0nk3y#12345",
            "1l0v3y0u2026",
            "juventus2024",
        ] {
            assert_eq!(
                check_new_password(common, common),
                Err(PasswordError::Common),
                "{common}"
            );
        }
        // Passphrases and Japanese stay allowed.
        for fine in [
            "hoshi-no-kairan-7",
            "correct horse battery staple",
            "two-person-rule-pass-1",
            "kaiRan sends monthly 2026",
            "春の回覧板を皆で読みましょう",
        ] {
            assert_eq!(check_new_password(fine, fine), Ok(()), "{fine}");
        }
    }
}
