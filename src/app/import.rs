//! Importing subscribers from a CSV file (issues 3 and 16), as a use case for the command line
//! and the console alike: decode the bytes (UTF-8, or Excel's Shift_JIS), map the columns
//! (any header names: the known ones in English and Japanese are guessed, the operator
//! chooses the rest, [`Mapping`]), show a [`preview`] of the first rows, report every bad row
//! with its line, and load the good rows in batched transactions ([`load`], through
//! `ImportStore::register_batch`: the rules of `subscription::register` for an operator's
//! `add`, applied set-wise, at tens of thousands of rows a second). Re-importing a file
//! changes nothing.
//!
//! Depends on the domain, the ports and `app::subscription`; no adapter.

use std::collections::HashMap;

use chrono::Utc;

use super::keys::address_hash_with;
use super::notify::NotifyError;
use super::ports::{BatchOutcome, BatchRow, Store};
use super::subscription::{Mail, Registration, Requester};
use crate::domain::{
    EmailAddress, LangPref, MailKind, NewMail, SubscriberId, SubscriptionSource, parse_name,
};

/// Decodes a CSV file: UTF-8 (a BOM is dropped) or, failing that, Shift_JIS as Excel saves
/// "CSV (Comma delimited)" on Japanese Windows. Returns the text and a note when converted.
pub fn decode_csv(bytes: &[u8]) -> Result<(String, Option<&'static str>), String> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err("the file is UTF-16 (Excel's \"Unicode Text\"); save it as \
                    \"CSV UTF-8 (Comma delimited)\" instead"
            .into());
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok((text.to_owned(), None)),
        Err(utf8_error) => {
            match encoding_rs::SHIFT_JIS.decode_without_bom_handling_and_without_replacement(bytes)
            {
                Some(text) => Ok((text.into_owned(), Some("converted from Shift_JIS (Excel)"))),
                None => {
                    let at = utf8_error.valid_up_to();
                    let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
                    Err(format!(
                        "the file is neither UTF-8 nor Shift_JIS (first undecodable byte on line \
                         {line}); save it from Excel as \"CSV UTF-8 (Comma delimited)\""
                    ))
                }
            }
        }
    }
}

/// What a column of the file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Email,
    Name,
    Lang,
    /// Read past (another tool's columns: tags, dates, …).
    Ignore,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Email => "email",
            Field::Name => "name",
            Field::Lang => "lang",
            Field::Ignore => "ignore",
        }
    }
}

impl std::str::FromStr for Field {
    type Err = String;
    fn from_str(s: &str) -> Result<Field, String> {
        match s.trim().to_lowercase().as_str() {
            "email" => Ok(Field::Email),
            "name" => Ok(Field::Name),
            "lang" | "language" => Ok(Field::Lang),
            "ignore" | "skip" | "-" => Ok(Field::Ignore),
            other => Err(format!(
                "`{other}` is not a field: use email, name, lang or ignore"
            )),
        }
    }
}

/// The operator's choice for one column, by its header text: `--map COLUMN=field` on the
/// command line, a select box in the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnChoice {
    pub column: String,
    pub field: Field,
}

impl std::str::FromStr for ColumnChoice {
    type Err = String;
    /// `COLUMN=field`, e.g. `メールアドレス=email`.
    fn from_str(s: &str) -> Result<ColumnChoice, String> {
        let (column, field) = s
            .rsplit_once('=')
            .ok_or_else(|| format!("`{s}`: expected COLUMN=field (email, name, lang or ignore)"))?;
        Ok(ColumnChoice {
            column: column.trim().to_owned(),
            field: field.parse().map_err(|e| format!("`{s}`: {e}"))?,
        })
    }
}

/// The field a header names, when it is one kairan knows (English or Japanese, any case,
/// spaces, `_`, `-` and `.` ignored). `None`: the operator must say.
pub fn guess_field(header: &str) -> Option<Field> {
    let h: String = header
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{3000}' | '_' | '-' | '.' | '・'))
        .collect();
    match h.as_str() {
        "email"
        | "emailaddress"
        | "mailaddress"
        | "メール"
        | "メールアドレス"
        | "eメール"
        | "eメールアドレス"
        | "電子メール"
        | "電子メールアドレス"
        | "ｅメール" => Some(Field::Email),
        "name" | "fullname" | "displayname" | "名前" | "氏名" | "お名前" | "なまえ" | "表示名"
        | "名前(任意)" => Some(Field::Name),
        "lang" | "language" | "locale" | "言語" | "希望言語" | "配信言語" | "購読言語" => {
            Some(Field::Lang)
        }
        _ => None,
    }
}

/// A language as people write it in a spreadsheet: codes, names in English or Japanese, and
/// "both" in either language. `None`: not one kairan understands.
pub fn parse_lang(value: &str) -> Option<LangPref> {
    let v: String = value
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{3000}'))
        .collect();
    match v.as_str() {
        "ja" | "jp" | "jpn" | "ja-jp" | "ja_jp" | "japanese" | "日本語" | "にほんご" | "和文"
        | "日" => Some(LangPref::Ja),
        "en" | "eng" | "en-us" | "en-gb" | "en_us" | "en_gb" | "english" | "英語" | "えいご"
        | "英文" | "英" => Some(LangPref::En),
        "both" | "all" | "bilingual" | "ja+en" | "en+ja" | "ja,en" | "en,ja" | "ja/en"
        | "en/ja" | "ja&en" | "両方" | "両方とも" | "両言語" | "日英" | "日本語と英語"
        | "日本語・英語" | "日本語/英語" | "英語と日本語" | "japanese+english"
        | "japaneseandenglish" | "englishandjapanese" => Some(LangPref::Both),
        _ => None,
    }
}

/// Which column holds what: one field per column of the header, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub headers: Vec<String>,
    pub fields: Vec<Field>,
}

impl Mapping {
    /// The mapping of `headers`: the operator's `choices` first, then the guessed fields.
    /// Every column must be mapped (or ignored), `email` and `lang` exactly once, `name` at
    /// most once; each problem is named.
    pub fn new(headers: &[String], choices: &[ColumnChoice]) -> Result<Mapping, String> {
        for c in choices {
            if !headers.iter().any(|h| h.trim() == c.column) {
                return Err(format!(
                    "--map `{}`: the file has no such column (its header is `{}`)",
                    c.column,
                    headers.join(",")
                ));
            }
        }
        let mut fields = Vec::with_capacity(headers.len());
        for h in headers {
            let chosen = choices.iter().rev().find(|c| c.column == h.trim());
            match chosen.map(|c| c.field).or_else(|| guess_field(h)) {
                Some(f) => fields.push(f),
                None => {
                    return Err(format!(
                        "line 1: unknown column `{}`: the header must be email,name,lang, or map \
                         the column with --map '{}=email|name|lang|ignore'",
                        h.trim(),
                        h.trim()
                    ));
                }
            }
        }
        for f in [Field::Email, Field::Name, Field::Lang] {
            let n = fields.iter().filter(|&&x| x == f).count();
            if n > 1 {
                return Err(format!("line 1: the column `{}` appears twice", f.as_str()));
            }
            if n == 0 && f != Field::Name {
                return Err(format!(
                    "line 1: no `{}` column: the header must be email,name,lang, or map a \
                     column with --map 'COLUMN={}' (found `{}`)",
                    f.as_str(),
                    f.as_str(),
                    headers.join(",")
                ));
            }
        }
        Ok(Mapping {
            headers: headers.to_vec(),
            fields,
        })
    }

    fn column(&self, f: Field) -> Option<usize> {
        self.fields.iter().position(|&x| x == f)
    }
}

/// One good row of an import file.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    pub line: u64,
    pub email: EmailAddress,
    pub name: Option<String>,
    pub lang: LangPref,
}

/// A row that was refused, with its line number and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    pub line: u64,
    pub reason: String,
}

fn reader(text: &str) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes())
}

/// The header row of the file.
pub fn headers(text: &str) -> Result<Vec<String>, String> {
    Ok(reader(text)
        .headers()
        .map_err(|e| format!("cannot read the header row: {e}"))?
        .iter()
        .map(str::to_owned)
        .collect())
}

/// Parses the CSV text with the default mapping (headers `email`, `lang` and optionally
/// `name`, in any order and case, or their Japanese names). A header problem is an error.
pub fn parse_csv(text: &str) -> Result<(Vec<ImportRow>, Vec<BadRow>), String> {
    parse_mapped(text, &[])
}

/// Parses the CSV text with the operator's column choices: the good rows and every bad one.
pub fn parse_mapped(
    text: &str,
    choices: &[ColumnChoice],
) -> Result<(Vec<ImportRow>, Vec<BadRow>), String> {
    let mapping = Mapping::new(&headers(text)?, choices)?;
    let mut good = Vec::new();
    let mut bad = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    rows(text, &mapping, None, &mut |_, row| match row {
        Err(b) => bad.push(b),
        Ok(row) => {
            if let Some(first) = seen.get(&row.email.key()) {
                bad.push(BadRow {
                    line: row.line,
                    reason: format!("the address already appears on line {first}"),
                });
            } else {
                seen.insert(row.email.key(), row.line);
                good.push(row);
            }
        }
    });
    Ok((good, bad))
}

/// The first rows as they would be read, for the mapping step.
#[derive(Debug, Clone)]
pub struct Preview {
    pub mapping: Mapping,
    pub rows: Vec<PreviewRow>,
}

/// One row of a [`Preview`]: the cells as in the file and what they become.
#[derive(Debug, Clone)]
pub struct PreviewRow {
    pub line: u64,
    pub cells: Vec<String>,
    pub result: Result<ImportRow, String>,
}

/// The first `n` non-blank rows read with `choices`. A mapping problem is an error (show it
/// with the header, and ask for a choice).
pub fn preview(text: &str, choices: &[ColumnChoice], n: usize) -> Result<Preview, String> {
    let mapping = Mapping::new(&headers(text)?, choices)?;
    let mut out = Vec::new();
    rows(text, &mapping, Some(n), &mut |cells, row| {
        out.push(PreviewRow {
            line: match &row {
                Ok(r) => r.line,
                Err(b) => b.line,
            },
            cells: cells.to_vec(),
            result: row.map_err(|b| b.reason),
        })
    });
    Ok(Preview { mapping, rows: out })
}

/// Hears each record read: its cells (kept only for a preview) and what it became.
type RowSink<'a> = dyn FnMut(&[String], Result<ImportRow, BadRow>) + 'a;

/// Reads the records after the header, each as a good row or a bad one, up to `limit`
/// non-blank records.
fn rows(text: &str, mapping: &Mapping, limit: Option<usize>, each: &mut RowSink<'_>) {
    let mut reader = reader(text);
    let ncols = mapping.headers.len();
    let email_col = mapping.column(Field::Email);
    let name_col = mapping.column(Field::Name);
    let lang_col = mapping.column(Field::Lang);
    // Line numbers from byte offsets: csv's own line count skips blank lines, and a record's
    // position is where the reader resumed, before any blank lines it skipped. Counted
    // incrementally, so a long file is read once.
    let bytes = text.as_bytes();
    let mut counted_to = 0usize;
    let mut newlines = 0u64;
    let mut line_at = |byte: u64| {
        let mut end = (byte as usize).min(bytes.len());
        while end < bytes.len() && matches!(bytes[end], b'\n' | b'\r') {
            end += 1;
        }
        if end >= counted_to {
            newlines += bytes[counted_to..end]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
            counted_to = end;
            newlines + 1
        } else {
            bytes[..end].iter().filter(|&&b| b == b'\n').count() as u64 + 1
        }
    };
    let mut taken = 0usize;
    let mut record = csv::StringRecord::new();
    loop {
        if limit.is_some_and(|l| taken >= l) {
            return;
        }
        let more = reader.read_record(&mut record);
        let more = match more {
            Ok(m) => m,
            Err(e) => {
                let line = e.position().map(|p| line_at(p.byte())).unwrap_or(0);
                taken += 1;
                each(
                    &[],
                    Err(BadRow {
                        line,
                        reason: format!("unreadable row: {e}"),
                    }),
                );
                continue;
            }
        };
        if !more {
            return;
        }
        let line = record.position().map(|p| line_at(p.byte())).unwrap_or(0);
        if record.iter().all(str::is_empty) {
            continue;
        }
        taken += 1;
        let cells: Vec<String> = if limit.is_some() {
            record.iter().map(str::to_owned).collect()
        } else {
            Vec::new()
        };
        let bad = |reason: String| Err(BadRow { line, reason });
        if record.len() != ncols {
            each(
                &cells,
                bad(format!("expected {} fields, found {}", ncols, record.len())),
            );
            continue;
        }
        let field = |c: Option<usize>| c.and_then(|i| record.get(i)).unwrap_or("");
        let raw_email = field(email_col);
        let email = match EmailAddress::parse(raw_email) {
            Ok(e) => e,
            Err(e) => {
                each(&cells, bad(format!("email `{raw_email}`: {e}")));
                continue;
            }
        };
        let name = match parse_name(field(name_col)) {
            Ok(n) => n,
            Err(e) => {
                each(&cells, bad(format!("name: {e}")));
                continue;
            }
        };
        let raw_lang = field(lang_col);
        let Some(lang) = parse_lang(raw_lang) else {
            each(
                &cells,
                bad(format!(
                    "lang `{raw_lang}`: expected ja, en or both (or 日本語, English, 両方, …)"
                )),
            );
            continue;
        };
        each(
            &cells,
            Ok(ImportRow {
                line,
                email,
                name,
                lang,
            }),
        );
    }
}

/// What loading the good rows did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Loaded {
    pub added: u64,
    pub activated: u64,
    pub unchanged: u64,
    pub suppressed: u64,
    /// Confirmation mails sent (pending additions).
    pub mailed: u64,
}

/// Something worth telling the operator about one row, as it happens.
#[derive(Debug)]
pub enum RowEvent<'a> {
    /// Skipped: the address was erased on request and is on the suppression list.
    Suppressed { line: u64 },
    /// Added, but its confirmation mail did not go.
    MailNotSent {
        line: u64,
        id: SubscriberId,
        error: &'a NotifyError,
    },
}

/// A row the database refused to store; the rows before it are loaded.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {source}")]
pub struct RowFailed {
    pub line: u64,
    #[source]
    pub source: anyhow::Error,
}

/// Rows per transaction: large enough that a commit's cost is spread thin (SQLite syncs
/// the WAL once per commit), small enough that a failed batch is quickly redone.
pub const BATCH_ROWS: usize = 2_000;

/// How far a [`load`] has got, after each batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

/// Registers the rows as an operator's additions, in order, in batched transactions of
/// [`BATCH_ROWS`] (the rules of `subscription::register` for an operator, set-wise:
/// `ImportStore::register_batch`): pending with a confirmation queued and sent through
/// `mail`, or active at once when `confirmed`. `on_event` hears about suppressed rows and
/// mails that did not go; `on_progress` after each batch. Stops at the first batch the
/// database refuses: the batches before it are loaded, that one is not (a re-import finishes
/// the job and changes nothing of what is loaded).
pub async fn load(
    store: &dyn Store,
    rows: &[ImportRow],
    confirmed: bool,
    mail: Mail<'_>,
    on_event: &mut dyn FnMut(RowEvent<'_>),
    on_progress: &mut dyn FnMut(Progress),
) -> Result<Loaded, RowFailed> {
    let mut done = Loaded::default();
    let Some(first) = rows.first() else {
        return Ok(done);
    };
    let salt = store.suppression_salt().await.map_err(|e| RowFailed {
        line: first.line,
        source: anyhow::Error::new(e).context("reading the suppression salt"),
    })?;
    let queue = !matches!(mail, Mail::Never);
    let total = rows.len() as u64;
    for chunk in rows.chunks(BATCH_ROWS) {
        let now = Utc::now();
        let batch: Vec<BatchRow> = chunk
            .iter()
            .map(|row| {
                let reg = Registration {
                    email: row.email.clone(),
                    name: row.name.clone(),
                    lang: row.lang,
                    by: Requester::Operator {
                        via: SubscriptionSource::Import,
                        confirmed,
                    },
                };
                BatchRow {
                    subscriber: reg.subscriber(now),
                    address_hash: address_hash_with(&salt, &row.email),
                    confirmation: (queue && !confirmed)
                        .then(|| NewMail::new(MailKind::Confirm, row.lang)),
                }
            })
            .collect();
        let outcomes = store.register_batch(&batch).await.map_err(|e| RowFailed {
            line: chunk[0].line,
            source: e.into(),
        })?;
        for (row, outcome) in chunk.iter().zip(outcomes) {
            match outcome {
                BatchOutcome::Created { id, mail: queued } => {
                    done.added += 1;
                    let Some(mail_id) = queued else { continue };
                    match mail {
                        Mail::Now(n) => match n.send_now(mail_id).await {
                            Ok(true) => done.mailed += 1,
                            Ok(false) => {}
                            Err(error) => on_event(RowEvent::MailNotSent {
                                line: row.line,
                                id,
                                error: &error,
                            }),
                        },
                        Mail::Later(n) => n.wake(),
                        Mail::Never => {}
                    }
                }
                BatchOutcome::Confirmed { .. } => done.activated += 1,
                BatchOutcome::Unchanged { .. } => done.unchanged += 1,
                BatchOutcome::Suppressed => {
                    done.suppressed += 1;
                    on_event(RowEvent::Suppressed { line: row.line });
                }
            }
        }
        on_progress(Progress {
            done: (done.added + done.activated + done.unchanged + done.suppressed),
            total,
        });
    }
    super::accounts::audit::note(
        "subscriber.imported",
        "",
        format!(
            "{} rows: {} added, {} activated, {} unchanged, {} suppressed",
            rows.len(),
            done.added,
            done.activated,
            done.unchanged,
            done.suppressed
        ),
        Utc::now(),
    )
    .await;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_with_and_without_bom_and_shift_jis_decode() {
        let text = "email,name,lang\ntaro@example.jp,山田太郎,ja\n";
        assert_eq!(
            decode_csv(text.as_bytes()).unwrap(),
            (text.to_owned(), None)
        );
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(text.as_bytes());
        assert_eq!(decode_csv(&bom).unwrap().0, text);
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(text);
        let (decoded, note) = decode_csv(&sjis).unwrap();
        assert_eq!(decoded, text);
        assert!(note.unwrap().contains("Shift_JIS"));
        assert!(decode_csv(b"\xFF\xFEe\0").unwrap_err().contains("UTF-16"));
        let err = decode_csv(b"email,name,lang\n\x80\x80\xFF,x,ja\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line() {
        let text = "Email,Name,Lang\n\
                    taro@example.jp,山田太郎,ja\n\
                    not-an-address,,en\n\
                    hana@example.jp,\"multi\nline\",en\n\
                    ken@example.jp,Ken,fr\n\
                    TARO@example.jp,,both\n\
                    short@example.jp\n\
                    \n\
                    \"quoted, name\"@example.jp,x,en\n\
                    mai@example.jp,\"Mai, Sato\",both\n";
        let (good, bad) = parse_csv(text).unwrap();
        let lines: Vec<u64> = bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, [3, 4, 6, 7, 8, 10], "{bad:?}");
        assert!(bad[0].reason.contains("not-an-address"));
        assert!(bad[1].reason.contains("name"));
        assert!(bad[2].reason.contains("fr"));
        assert!(bad[3].reason.contains("line 2"));
        assert!(bad[4].reason.contains("expected 3 fields"));
        assert_eq!(good.len(), 2);
        assert_eq!(good[0].name.as_deref(), Some("山田太郎"));
        assert_eq!(good[1].name.as_deref(), Some("Mai, Sato"));
        assert_eq!(good[1].line, 11);
    }

    #[test]
    fn a_bad_header_is_one_clear_error() {
        assert!(
            parse_csv("mail,name\nx@y.jp,a\n")
                .unwrap_err()
                .contains("unknown column `mail`")
        );
        assert!(
            parse_csv("email,name\nx@y.jp,a\n")
                .unwrap_err()
                .contains("no `lang` column")
        );
        assert!(
            parse_csv("email,lang,lang\n")
                .unwrap_err()
                .contains("twice")
        );
        assert!(parse_csv("lang,email\nja,x@example.jp\n").unwrap().0.len() == 1);
    }

    #[test]
    fn japanese_headers_and_language_names_are_understood() {
        let text = "メールアドレス,氏名,配信言語,タグ\n\
                    taro@example.jp,山田 太郎,日本語,a\n\
                    ann@example.org,Ann,English,b\n\
                    ken@example.jp,佐藤 健,両方,c\n\
                    bob@example.org,Bob,Japanese,d\n\
                    x@example.org,X,フランス語,e\n";
        let err = parse_csv(text).unwrap_err();
        assert!(
            err.contains("unknown column `タグ`") && err.contains("--map"),
            "{err}"
        );
        let choices = ["タグ=ignore".parse::<ColumnChoice>().unwrap()];
        let (good, bad) = parse_mapped(text, &choices).unwrap();
        let langs: Vec<LangPref> = good.iter().map(|r| r.lang).collect();
        assert_eq!(
            langs,
            [LangPref::Ja, LangPref::En, LangPref::Both, LangPref::Ja]
        );
        assert_eq!(good[2].name.as_deref(), Some("佐藤 健"));
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].line, 6);
        assert!(bad[0].reason.contains("lang `フランス語`"), "{bad:?}");

        let p = preview(text, &choices, 2).unwrap();
        assert_eq!(
            p.mapping.fields,
            [Field::Email, Field::Name, Field::Lang, Field::Ignore]
        );
        assert_eq!(p.rows.len(), 2);
        assert_eq!(p.rows[0].cells[1], "山田 太郎");
        assert_eq!(p.rows[1].result.as_ref().unwrap().lang, LangPref::En);
    }

    #[test]
    fn any_header_can_be_mapped_and_mistakes_are_named() {
        let text = "Mail,Who,L\nhana@example.jp,花子,ja\n";
        let choices: Vec<ColumnChoice> = ["Mail=email", "Who=name", "L=lang"]
            .iter()
            .map(|c| c.parse().unwrap())
            .collect();
        let (good, bad) = parse_mapped(text, &choices).unwrap();
        assert!(bad.is_empty());
        assert_eq!(good[0].name.as_deref(), Some("花子"));
        let e = parse_mapped(text, &["Nope=email".parse().unwrap()]).unwrap_err();
        assert!(
            e.contains("--map `Nope`: the file has no such column"),
            "{e}"
        );
        let e = "Mail=address".parse::<ColumnChoice>().unwrap_err();
        assert!(e.contains("not a field"), "{e}");
        let e = parse_mapped(
            text,
            &[
                "Mail=email".parse().unwrap(),
                "Who=email".parse().unwrap(),
                "L=lang".parse().unwrap(),
            ],
        )
        .unwrap_err();
        assert!(e.contains("`email` appears twice"), "{e}");
    }

    #[test]
    fn language_values() {
        for (v, want) in [
            ("ja", LangPref::Ja),
            (" JA ", LangPref::Ja),
            ("日本語", LangPref::Ja),
            ("Japanese", LangPref::Ja),
            ("English", LangPref::En),
            ("en", LangPref::En),
            ("英語", LangPref::En),
            ("both", LangPref::Both),
            ("両方", LangPref::Both),
            ("ja+en", LangPref::Both),
        ] {
            assert_eq!(parse_lang(v), Some(want), "{v}");
        }
        assert_eq!(parse_lang("fr"), None);
        assert_eq!(parse_lang(""), None);
    }
}
