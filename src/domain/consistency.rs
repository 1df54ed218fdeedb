//! Cross-language consistency: the facts a reader acts on (dates, times, amounts, numbers,
//! URLs, email addresses) and the shape of the text (headings, lists), read from the
//! Japanese and the English Markdown and compared, so that "2027年1月23日 14:00〜15:30"
//! against "24 January 2027, 14:00-15:30" is flagged before the issue goes out.
//!
//! Pure and deliberately forgiving: a fact is compared only with facts of its own kind, a
//! date without a year matches the same day with one, small numbers (below 10) are left out
//! (English spells them), and URLs that differ only by a language path segment or query
//! value (`/ja/` against `/en/`) match. What remains is a warning, never an error: the
//! editor decides. Positions are 1-based, lines of the Markdown body (the editor's own
//! numbering) and columns counted in characters.

use std::fmt;

/// What kind of fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FactKind {
    Date,
    Time,
    Amount,
    Number,
    Url,
    Email,
    Headings,
    Lists,
}

impl FactKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FactKind::Date => "date",
            FactKind::Time => "time",
            FactKind::Amount => "amount",
            FactKind::Number => "number",
            FactKind::Url => "url",
            FactKind::Email => "email",
            FactKind::Headings => "headings",
            FactKind::Lists => "lists",
        }
    }

    /// The kind in Japanese, for messages.
    pub fn ja(self) -> &'static str {
        match self {
            FactKind::Date => "日付",
            FactKind::Time => "時刻",
            FactKind::Amount => "金額",
            FactKind::Number => "数値",
            FactKind::Url => "URL",
            FactKind::Email => "メールアドレス",
            FactKind::Headings => "見出しの構成",
            FactKind::Lists => "箇条書きの項目数",
        }
    }
}

impl fmt::Display for FactKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A date as written: the year or day may be left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    pub year: Option<i32>,
    pub month: u32,
    pub day: Option<u32>,
}

impl Date {
    fn matches(&self, o: &Date) -> bool {
        fn same<T: PartialEq>(a: Option<T>, b: Option<T>) -> bool {
            match (a, b) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
        }
        self.month == o.month && same(self.year, o.year) && same(self.day, o.day)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.year {
            Some(y) => write!(f, "{y:04}-{:02}", self.month)?,
            None => write!(f, "--{:02}", self.month)?,
        }
        if let Some(d) = self.day {
            write!(f, "-{d:02}")?;
        }
        Ok(())
    }
}

/// A fact's normalised value, compared across languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Date(Date),
    /// Minutes after midnight.
    Time(u32),
    /// Currency code and the amount in its smallest written unit (×100 for decimals).
    Amount(&'static str, i64),
    /// The number ×100 (two decimals), and whether it was a percentage.
    Number(i64, bool),
    Url(String),
    Email(String),
    /// Heading levels in order.
    Headings(Vec<u8>),
    /// Items per list in order.
    Lists(Vec<usize>),
}

impl Value {
    fn kind(&self) -> FactKind {
        match self {
            Value::Date(_) => FactKind::Date,
            Value::Time(_) => FactKind::Time,
            Value::Amount(..) => FactKind::Amount,
            Value::Number(..) => FactKind::Number,
            Value::Url(_) => FactKind::Url,
            Value::Email(_) => FactKind::Email,
            Value::Headings(_) => FactKind::Headings,
            Value::Lists(_) => FactKind::Lists,
        }
    }

    fn matches(&self, o: &Value) -> bool {
        match (self, o) {
            (Value::Date(a), Value::Date(b)) => a.matches(b),
            (Value::Url(a), Value::Url(b)) => url_key(a) == url_key(b),
            _ => self == o,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Date(d) => d.fmt(f),
            Value::Time(m) => write!(f, "{:02}:{:02}", m / 60, m % 60),
            Value::Amount(c, v) => write!(f, "{c} {}", hundredths(*v)),
            Value::Number(v, pct) => write!(f, "{}{}", hundredths(*v), if *pct { "%" } else { "" }),
            Value::Url(u) | Value::Email(u) => f.write_str(u),
            Value::Headings(l) => write!(
                f,
                "{}",
                l.iter()
                    .map(|n| "#".repeat(*n as usize))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Value::Lists(c) => write!(
                f,
                "{}",
                c.iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

fn hundredths(v: i64) -> String {
    if v % 100 == 0 {
        (v / 100).to_string()
    } else {
        format!("{}.{:02}", v / 100, (v % 100).abs())
    }
}

/// One fact found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub value: Value,
    /// As written (for headings and lists: the first line of the structure).
    pub raw: String,
    pub line: usize,
    pub col: usize,
}

impl Fact {
    pub fn kind(&self) -> FactKind {
        self.value.kind()
    }
}

/// Which language's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Ja,
    En,
}

/// A fact of one side that the other side does not have; `other` is the other side's
/// unmatched fact of the same kind it most likely corresponds to (then the two differ).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub side: Side,
    pub fact: Fact,
    pub other: Option<Fact>,
}

impl Mismatch {
    pub fn kind(&self) -> FactKind {
        self.fact.kind()
    }

    /// `date-differs`, `url-missing`, …
    pub fn code(&self) -> String {
        format!(
            "{}-{}",
            self.kind(),
            if self.other.is_some() {
                "differs"
            } else {
                "missing"
            }
        )
    }

    /// In English.
    pub fn message_en(&self) -> String {
        let (this, that) = match self.side {
            Side::Ja => ("Japanese", "English"),
            Side::En => ("English", "Japanese"),
        };
        match &self.other {
            Some(o) => format!(
                "{} differs: “{}” ({}) in the {this} text, “{}” ({}) in the {that}",
                self.kind(),
                self.fact.raw,
                self.fact.value,
                o.raw,
                o.value
            ),
            None => format!(
                "{} “{}” ({}) is in the {this} text but not in the {that}",
                self.kind(),
                self.fact.raw,
                self.fact.value
            ),
        }
    }

    /// In Japanese.
    pub fn message_ja(&self) -> String {
        let (this, that) = match self.side {
            Side::Ja => ("日本語", "英語"),
            Side::En => ("英語", "日本語"),
        };
        match &self.other {
            Some(o) => format!(
                "{}が違います：{this}は「{}」（{}）、{that}は「{}」（{}）",
                self.kind().ja(),
                self.fact.raw,
                self.fact.value,
                o.raw,
                o.value
            ),
            None => format!(
                "{}「{}」（{}）が{this}にありますが、{that}にはありません",
                self.kind().ja(),
                self.fact.raw,
                self.fact.value
            ),
        }
    }
}

/// Compares the Japanese and English Markdown: every fact of one side the other lacks, in
/// order (Japanese side first).
pub fn compare(ja: &str, en: &str) -> Vec<Mismatch> {
    let ja_facts = extract(ja);
    let en_facts = extract(en);
    let mut out = Vec::new();
    for kind in [
        FactKind::Date,
        FactKind::Time,
        FactKind::Amount,
        FactKind::Number,
        FactKind::Url,
        FactKind::Email,
        FactKind::Headings,
        FactKind::Lists,
    ] {
        let mut a: Vec<&Fact> = ja_facts.iter().filter(|f| f.kind() == kind).collect();
        let mut b: Vec<&Fact> = en_facts.iter().filter(|f| f.kind() == kind).collect();
        // Remove matched pairs (multiset difference, first match wins).
        let mut i = 0;
        while i < a.len() {
            if let Some(j) = b.iter().position(|f| f.value.matches(&a[i].value)) {
                a.remove(i);
                b.remove(j);
            } else {
                i += 1;
            }
        }
        // Numbers that are only one side's spelled-out or structural noise are common;
        // pair what is left in order of appearance.
        for (k, f) in a.iter().enumerate() {
            out.push(Mismatch {
                side: Side::Ja,
                fact: (*f).clone(),
                other: b.get(k).map(|o| (*o).clone()),
            });
        }
        for (k, f) in b.iter().enumerate() {
            out.push(Mismatch {
                side: Side::En,
                fact: (*f).clone(),
                other: a.get(k).map(|o| (*o).clone()),
            });
        }
    }
    out.sort_by_key(|m| (m.side == Side::En, m.fact.line, m.fact.col));
    out
}

/// Every fact of one Markdown text, in order of appearance (structure facts last).
pub fn extract(md: &str) -> Vec<Fact> {
    let mut facts = Vec::new();
    let mut headings: Vec<u8> = Vec::new();
    let mut heading_at: Option<(usize, usize, String)> = None;
    let mut lists: Vec<usize> = Vec::new();
    let mut list_at: Option<(usize, usize, String)> = None;
    let mut in_list = false;
    let mut fenced = false;
    for (i, line) in md.split('\n').enumerate() {
        let line_no = i + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Structure.
        let hashes = trimmed.bytes().take_while(|b| *b == b'#').count();
        if (1..=6).contains(&hashes)
            && trimmed[hashes..].starts_with(' ')
            && line.len() - trimmed.len() < 4
        {
            headings.push(hashes as u8);
            heading_at.get_or_insert((line_no, indent_col(line, trimmed), trimmed.to_owned()));
        }
        if list_item(trimmed) {
            if in_list {
                *lists.last_mut().expect("in a list") += 1;
            } else {
                lists.push(1);
                list_at.get_or_insert((line_no, indent_col(line, trimmed), trimmed.to_owned()));
                in_list = true;
            }
        } else if !trimmed.is_empty() && line.len() == trimmed.len() {
            in_list = false;
        }
        scan_line(line, line_no, &mut facts);
    }
    if let Some((line, col, raw)) = heading_at {
        facts.push(Fact {
            value: Value::Headings(headings),
            raw,
            line,
            col,
        });
    }
    if let Some((line, col, raw)) = list_at {
        facts.push(Fact {
            value: Value::Lists(lists),
            raw,
            line,
            col,
        });
    }
    facts
}

/// The 1-based column (in characters) where `trimmed`, a suffix of `line`, starts.
fn indent_col(line: &str, trimmed: &str) -> usize {
    line[..line.len() - trimmed.len()].chars().count() + 1
}

fn list_item(t: &str) -> bool {
    if t.starts_with("- ") || t.starts_with("* ") || t.starts_with("+ ") {
        return true;
    }
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    (1..=9).contains(&digits) && (t[digits..].starts_with(". ") || t[digits..].starts_with(") "))
}

/// Full-width digits and punctuation as their ASCII forms, one char for one (columns stay).
fn fold(c: char) -> char {
    match c {
        '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
        '：' => ':',
        '，' => ',',
        '．' => '.',
        '／' => '/',
        '％' => '%',
        '＄' => '$',
        '￥' => '¥',
        _ => c,
    }
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn month_of(word: &str) -> Option<u32> {
    let w = word.trim_end_matches('.').to_ascii_lowercase();
    if w.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| *m == w || (w.len() == 3 && m.starts_with(&w)) || (w == "sept"))
        .map(|i| i as u32 + 1)
}

struct Line {
    c: Vec<char>,
    used: Vec<bool>,
}

impl Line {
    fn at(&self, i: usize) -> char {
        self.c.get(i).copied().unwrap_or('\0')
    }
    fn starts(&self, i: usize, s: &str) -> bool {
        (i..)
            .zip(s.chars())
            .all(|(k, ch)| self.at(k).eq_ignore_ascii_case(&ch))
    }
    fn text(&self, a: usize, b: usize) -> String {
        self.c[a..b.min(self.c.len())].iter().collect()
    }
    fn mark(&mut self, a: usize, b: usize) {
        for u in &mut self.used[a..b.min(self.c.len())] {
            *u = true;
        }
    }
    /// A number at `i`: digits with optional thousands commas and decimals. Returns the
    /// value ×100, the digit count before any separator, and the end.
    fn number(&self, i: usize) -> Option<(i64, usize, usize)> {
        if !self.at(i).is_ascii_digit() {
            return None;
        }
        let mut j = i;
        let mut v: i64 = 0;
        let mut lead = 0;
        while self.at(j).is_ascii_digit() {
            v = v
                .saturating_mul(10)
                .saturating_add(self.at(j) as i64 - '0' as i64);
            j += 1;
            lead += 1;
        }
        // Thousands separators: only groups of exactly three digits.
        while self.at(j) == ','
            && (1..=3).all(|k| self.at(j + k).is_ascii_digit())
            && !self.at(j + 4).is_ascii_digit()
        {
            for k in 1..=3 {
                v = v
                    .saturating_mul(10)
                    .saturating_add(self.at(j + k) as i64 - '0' as i64);
            }
            j += 4;
        }
        v = v.saturating_mul(100);
        if self.at(j) == '.' && self.at(j + 1).is_ascii_digit() {
            let mut scale = 10;
            j += 1;
            while self.at(j).is_ascii_digit() {
                v += (self.at(j) as i64 - '0' as i64) * scale;
                scale /= 10;
                j += 1;
            }
        }
        Some((v, lead, j))
    }
    fn skip_spaces(&self, mut i: usize) -> usize {
        while matches!(self.at(i), ' ' | '\u{3000}') {
            i += 1;
        }
        i
    }
}

fn scan_line(raw: &str, line_no: usize, facts: &mut Vec<Fact>) {
    let mut l = Line {
        c: raw.chars().map(fold).collect(),
        used: Vec::new(),
    };
    l.used = vec![false; l.c.len()];
    let raw_chars: Vec<char> = raw.chars().collect();
    let mut found: Vec<(usize, usize, Value)> = Vec::new();
    let n = l.c.len();
    // URLs.
    let mut i = 0;
    while i < n {
        if l.starts(i, "https://") || l.starts(i, "http://") {
            let mut j = i;
            while j < n
                && l.c[j].is_ascii()
                && !l.c[j].is_ascii_whitespace()
                && !matches!(l.c[j], ')' | '>' | ']' | '"' | '\'' | '<')
            {
                j += 1;
            }
            while j > i && matches!(l.c[j - 1], '.' | ',' | ';' | ':' | '!' | '?') {
                j -= 1;
            }
            found.push((i, j, Value::Url(l.text(i, j))));
            l.mark(i, j);
            i = j;
        } else {
            i += 1;
        }
    }
    // Email addresses.
    for at in 0..n {
        if l.c[at] != '@' || l.used[at] {
            continue;
        }
        let local = |c: char| c.is_ascii_alphanumeric() || "._%+-".contains(c);
        let mut a = at;
        while a > 0 && local(l.c[a - 1]) && !l.used[a - 1] {
            a -= 1;
        }
        let mut b = at + 1;
        while b < n && (l.c[b].is_ascii_alphanumeric() || matches!(l.c[b], '.' | '-')) {
            b += 1;
        }
        while b > at + 1 && l.c[b - 1] == '.' {
            b -= 1;
        }
        let domain = l.text(at + 1, b);
        if a < at && domain.contains('.') {
            found.push((a, b, Value::Email(l.text(a, b).to_ascii_lowercase())));
            l.mark(a, b);
        }
    }
    // Words and numbers.
    let mut pm_range_end: Option<usize> = None;
    let mut i = 0;
    while i < n {
        if l.used[i] {
            i += 1;
            continue;
        }
        let prev = if i == 0 { ' ' } else { l.c[i - 1] };
        // English month names: "January 24, 2027", "Jan 24", "January 2027".
        if l.c[i].is_ascii_alphabetic() && !prev.is_ascii_alphanumeric() {
            let mut j = i;
            while l.at(j).is_ascii_alphabetic() || (j > i && l.at(j) == '.') {
                j += 1;
            }
            if let Some(month) = month_of(&l.text(i, j)) {
                let k = l.skip_spaces(j);
                if let Some((d, lead, e)) = l.number(k).filter(|(_, lead, _)| *lead <= 2) {
                    let _ = lead;
                    let mut e = e;
                    for suf in ["st", "nd", "rd", "th"] {
                        if l.starts(e, suf) {
                            e += 2;
                        }
                    }
                    let mut date = Date {
                        year: None,
                        month,
                        day: Some((d / 100) as u32),
                    };
                    let mut y_at = e;
                    if l.at(y_at) == ',' {
                        y_at += 1;
                    }
                    let y_at = l.skip_spaces(y_at);
                    if let Some((y, 4, ye)) = l.number(y_at) {
                        date.year = Some((y / 100) as i32);
                        e = ye;
                    }
                    found.push((i, e, Value::Date(date)));
                    l.mark(i, e);
                    i = e;
                    continue;
                }
                if let Some((y, 4, ye)) = l.number(k) {
                    found.push((
                        i,
                        ye,
                        Value::Date(Date {
                            year: Some((y / 100) as i32),
                            month,
                            day: None,
                        }),
                    ));
                    l.mark(i, ye);
                    i = ye;
                    continue;
                }
            }
            i = j.max(i + 1);
            continue;
        }
        let Some((v, lead, j)) = l.number(i) else {
            i += 1;
            continue;
        };
        if prev.is_ascii_alphabetic() || prev == '.' && i >= 2 && l.c[i - 2].is_ascii_digit() {
            // Part of a word ("A4", "v2") or a version.
            i = j;
            continue;
        }
        let whole = v / 100;
        let int = v % 100 == 0;
        // Japanese dates: 2027年1月23日, 1月23日, 2027年1月.
        if int
            && l.at(j) == '年'
            && let Some((m, _, mj)) = l.number(j + 1)
            && l.at(mj) == '月'
            && (1..=12).contains(&(m / 100))
        {
            let mut date = Date {
                year: Some(whole as i32),
                month: (m / 100) as u32,
                day: None,
            };
            let mut e = mj + 1;
            if let Some((d, _, dj)) = l.number(e)
                && l.at(dj) == '日'
            {
                date.day = Some((d / 100) as u32);
                e = dj + 1;
            }
            found.push((i, e, Value::Date(date)));
            l.mark(i, e);
            i = e;
            continue;
        }
        if int
            && l.at(j) == '月'
            && (1..=12).contains(&whole)
            && let Some((d, _, dj)) = l.number(j + 1)
            && l.at(dj) == '日'
        {
            found.push((
                i,
                dj + 1,
                Value::Date(Date {
                    year: None,
                    month: whole as u32,
                    day: Some((d / 100) as u32),
                }),
            ));
            l.mark(i, dj + 1);
            i = dj + 1;
            continue;
        }
        // ISO and slashed dates: 2027-01-23, 2027/1/23.
        if int && lead == 4 && matches!(l.at(j), '-' | '/') {
            let sep = l.at(j);
            if let Some((m, ml, mj)) = l.number(j + 1)
                && ml <= 2
                && l.at(mj) == sep
                && let Some((d, dl, dj)) = l.number(mj + 1)
                && dl <= 2
                && (1..=12).contains(&(m / 100))
            {
                found.push((
                    i,
                    dj,
                    Value::Date(Date {
                        year: Some(whole as i32),
                        month: (m / 100) as u32,
                        day: Some((d / 100) as u32),
                    }),
                ));
                l.mark(i, dj);
                i = dj;
                continue;
            }
        }
        // English day-first dates: 24 January 2027, 24 Jan.
        if int && lead <= 2 {
            let k = l.skip_spaces(j);
            if k > j || l.at(k).is_ascii_alphabetic() {
                let mut w = k;
                while l.at(w).is_ascii_alphabetic() || (w > k && l.at(w) == '.') {
                    w += 1;
                }
                if let Some(month) = month_of(&l.text(k, w)) {
                    let mut date = Date {
                        year: None,
                        month,
                        day: Some(whole as u32),
                    };
                    let mut e = w;
                    let mut y_at = w;
                    if l.at(y_at) == ',' {
                        y_at += 1;
                    }
                    let y_at = l.skip_spaces(y_at);
                    if let Some((y, 4, ye)) = l.number(y_at) {
                        date.year = Some((y / 100) as i32);
                        e = ye;
                    }
                    found.push((i, e, Value::Date(date)));
                    l.mark(i, e);
                    i = e;
                    continue;
                }
            }
        }
        // Times: 14:00, 2:30 pm, 14時30分, 午後2時, 2 pm.
        // 午後 before the time, or before the start of a range this time ends (午後2時〜4時).
        let pm_before = (i >= 2 && l.text(i.saturating_sub(3), i).contains("午後"))
            || pm_range_end.is_some_and(|end| {
                end <= i
                    && l.c[end..i]
                        .iter()
                        .all(|c| matches!(c, ' ' | '〜' | '～' | '~' | '-' | '–' | 'か' | 'ら'))
            });
        let meridiem = |e: usize| -> Option<(bool, usize)> {
            let k = l.skip_spaces(e);
            for (s, pm) in [("a.m.", false), ("p.m.", true), ("am", false), ("pm", true)] {
                if l.starts(k, s) && !l.at(k + s.len()).is_ascii_alphabetic() {
                    return Some((pm, k + s.len()));
                }
            }
            None
        };
        let time = |h: i64, m: i64, pm: bool| -> Option<u32> {
            let h = if pm && h < 12 { h + 12 } else { h };
            ((0..=24).contains(&h) && (0..60).contains(&m)).then_some((h * 60 + m) as u32)
        };
        if int
            && lead <= 2
            && l.at(j) == ':'
            && let Some((m, 2, mj)) = l.number(j + 1)
        {
            let (pm, e) = match meridiem(mj) {
                Some((pm, e)) => (pm, e),
                None => (pm_before, mj),
            };
            if let Some(t) = time(whole, m / 100, pm) {
                if pm {
                    pm_range_end = Some(e);
                }
                found.push((i, e, Value::Time(t)));
                l.mark(i, e);
                i = e;
                continue;
            }
        }
        if int && lead <= 2 && l.at(j) == '時' {
            let mut e = j + 1;
            let mut minutes = 0;
            if let Some((m, _, mj)) = l.number(e) {
                if l.at(mj) == '分' {
                    minutes = m / 100;
                    e = mj + 1;
                }
            } else if l.at(e) == '半' {
                minutes = 30;
                e += 1;
            }
            if let Some(t) = time(whole, minutes, pm_before) {
                if pm_before {
                    pm_range_end = Some(e);
                }
                found.push((i, e, Value::Time(t)));
                l.mark(i, e);
                i = e;
                continue;
            }
        }
        if int
            && lead <= 2
            && let Some((pm, e)) = meridiem(j)
            && let Some(t) = time(whole, 0, pm)
        {
            found.push((i, e, Value::Time(t)));
            l.mark(i, e);
            i = e;
            continue;
        }
        // Amounts: ¥1,000, $10, €5, 1,000円, 1万円, 1,000 yen, 10 dollars.
        let mut start = i;
        let mut currency: Option<&'static str> = None;
        if i >= 1 {
            match l.c[i - 1] {
                '¥' => currency = Some("JPY"),
                '$' => currency = Some("USD"),
                '€' => currency = Some("EUR"),
                '£' => currency = Some("GBP"),
                _ => {}
            }
            if currency.is_some() {
                start = i - 1;
                if start >= 2 && l.text(start - 2, start) == "US" {
                    start -= 2;
                }
            }
        }
        if currency.is_none() {
            for (code, prefix) in [("JPY", "JPY "), ("USD", "USD "), ("EUR", "EUR ")] {
                let len = prefix.len();
                if i >= len && l.text(i - len, i).eq_ignore_ascii_case(prefix) {
                    currency = Some(code);
                    start = i - len;
                }
            }
        }
        let mut value = v;
        let mut e = j;
        if l.at(e) == '万' {
            value = value.saturating_mul(10_000);
            e += 1;
        } else if l.at(e) == '億' {
            value = value.saturating_mul(100_000_000);
            e += 1;
        }
        if currency.is_none() {
            let k = l.skip_spaces(e);
            for (code, suffix, spaced) in [
                ("JPY", "円", false),
                ("USD", "ドル", false),
                ("EUR", "ユーロ", false),
                ("JPY", "yen", true),
                ("USD", "dollars", true),
                ("EUR", "euros", true),
            ] {
                let at = if spaced { k } else { e };
                if l.starts(at, suffix)
                    && !(spaced && l.at(at + suffix.chars().count()).is_ascii_alphabetic())
                {
                    currency = Some(code);
                    e = at + suffix.chars().count();
                    break;
                }
            }
        } else if l.starts(e, " million") {
            value = value.saturating_mul(1_000_000);
            e += 8;
        }
        if let Some(c) = currency {
            found.push((start, e, Value::Amount(c, value)));
            l.mark(start, e);
            i = e;
            continue;
        }
        // Plain numbers (and percentages); English "30,000 people" = Japanese "3万人".
        let k = l.skip_spaces(e);
        let pct = if l.at(e) == '%' {
            e += 1;
            true
        } else if l.starts(k, "percent") || l.starts(k, "per cent") {
            e = k + if l.starts(k, "percent") { 7 } else { 8 };
            true
        } else {
            false
        };
        if l.starts(k, "million") && !pct {
            value = value.saturating_mul(1_000_000);
            e = k + 7;
        }
        if value >= 1000 || pct {
            found.push((i, e, Value::Number(value, pct)));
        }
        l.mark(i, e);
        i = e.max(i + 1);
    }
    found.sort_by_key(|(a, _, _)| *a);
    for (a, b, value) in found {
        facts.push(Fact {
            value,
            raw: raw_chars[a..b.min(raw_chars.len())].iter().collect(),
            line: line_no,
            col: a + 1,
        });
    }
}

/// A URL for comparison: scheme and host lower-cased, a trailing `/` dropped, and a path
/// segment or query value that names a language (`ja`, `jp`, `en`) read as "the language".
fn url_key(u: &str) -> String {
    let lower = u.to_ascii_lowercase();
    let mut out = String::new();
    for (k, part) in lower
        .trim_end_matches('/')
        .split(['/', '=', '&', '?'])
        .enumerate()
    {
        if k > 0 {
            out.push('/');
        }
        out.push_str(match part {
            "ja" | "jp" | "en" | "ja-jp" | "en-us" | "en-gb" => "{lang}",
            p => p,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn values(md: &str) -> Vec<String> {
        extract(md)
            .iter()
            .map(|f| format!("{}:{}", f.kind(), f.value))
            .collect()
    }

    #[test]
    fn the_issues_example_is_flagged_as_a_date_difference() {
        let ja = "# 公開セミナー\n\n日時：2027年1月23日 14:00〜15:30\n";
        let en = "# Public seminar\n\nWhen: 24 January 2027, 14:00-15:30\n";
        let m = compare(ja, en);
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(m[0].side, Side::Ja);
        assert_eq!(m[0].code(), "date-differs");
        assert_eq!((m[0].fact.line, m[0].fact.col), (3, 4));
        assert_eq!(m[0].fact.raw, "2027年1月23日");
        assert_eq!(m[1].side, Side::En);
        assert_eq!(m[1].fact.raw, "24 January 2027");
        assert_eq!((m[1].fact.line, m[1].fact.col), (3, 7));
        assert!(
            m[0].message_en().contains("2027-01-23"),
            "{}",
            m[0].message_en()
        );
        assert!(
            m[0].message_ja().starts_with("日付が違います"),
            "{}",
            m[0].message_ja()
        );
        // The same date matches.
        let en_ok = "# Public seminar\n\nWhen: 23 January 2027, 14:00-15:30\n";
        assert_eq!(compare(ja, en_ok), []);
    }

    #[test]
    fn dates_times_amounts_and_numbers_are_read_in_both_languages() {
        assert_eq!(
            values("2027年1月23日（土）午後2時〜4時半、参加費1,000円、定員3万人、満足度85％"),
            [
                "date:2027-01-23",
                "time:14:00",
                "time:16:30",
                "amount:JPY 1000",
                "number:30000",
                "number:85%"
            ]
        );
        assert_eq!(
            values(
                "Saturday, January 23rd, 2027, 2 pm to 4:30 p.m.; fee ¥1,000; 30,000 people; 85% satisfied"
            ),
            [
                "date:2027-01-23",
                "time:14:00",
                "time:16:30",
                "amount:JPY 1000",
                "number:30000",
                "number:85%"
            ]
        );
        assert_eq!(values("締切：２０２７／２／１"), ["date:2027-02-01"]);
        assert_eq!(
            values("Deadline 2027-02-01, Feb 1"),
            ["date:2027-02-01", "date:--02-01"]
        );
        assert_eq!(
            values("US$25 or 25 dollars, €3.50"),
            ["amount:USD 25", "amount:USD 25", "amount:EUR 3.50"]
        );
        // Small numbers, versions and words with digits are not facts.
        assert_eq!(values("第3回 v2.1 A4 3 people"), Vec::<String>::new());
    }

    #[test]
    fn urls_and_addresses_are_compared_with_language_segments_folded() {
        let ja = "[報告書](https://example.org/ja/report)、soudan@example.org まで";
        let en = "[Report](https://example.org/en/report), write to soudan@example.org.";
        assert_eq!(compare(ja, en), []);
        let en_bad = "[Report](https://example.org/en/reports), write to info@example.org.";
        let codes: Vec<String> = compare(ja, en_bad).iter().map(|m| m.code()).collect();
        assert_eq!(
            codes,
            [
                "url-differs",
                "email-differs",
                "url-differs",
                "email-differs"
            ]
        );
    }

    #[test]
    fn structure_is_compared() {
        let ja = "# 一\n\n## 二\n\n- あ\n- い\n- う\n\n本文\n";
        let en = "# One\n\n- a\n- b\n\ntext\n";
        let m = compare(ja, en);
        let codes: Vec<String> = m.iter().map(|m| m.code()).collect();
        assert_eq!(
            codes,
            [
                "headings-differs",
                "lists-differs",
                "headings-differs",
                "lists-differs"
            ]
        );
        assert_eq!(m[0].fact.value.to_string(), "# ##");
        assert_eq!(m[1].fact.line, 5);
        assert!(m[1].message_en().contains("(3)"), "{}", m[1].message_en());
    }

    #[test]
    fn a_fact_only_one_side_has_is_missing() {
        let m = compare("会費は年3,000円です。", "Membership is free.");
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].code(), "amount-missing");
        assert!(m[0].message_en().contains("not in the English"));
    }

    #[test]
    fn code_blocks_are_not_read() {
        assert_eq!(values("```\n2027-01-01 10:00\n```\n"), Vec::<String>::new());
    }

    const MONTH_NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];

    proptest! {
        #[test]
        fn a_date_written_in_both_languages_matches(y in 2000i32..2100, m in 1u32..=12, d in 1u32..=28, h in 0u32..24, min in 0u32..60, english_first in any::<bool>()) {
            let ja = format!("## 予定\n\n{y}年{m}月{d}日 {h}:{min:02}〜 会場：東京\n");
            let en = if english_first {
                format!("## Schedule\n\n{} {d}, {y}, {h}:{min:02} in Tokyo\n", MONTH_NAMES[m as usize - 1])
            } else {
                format!("## Schedule\n\n{d} {} {y}, {h}:{min:02} in Tokyo\n", MONTH_NAMES[m as usize - 1])
            };
            prop_assert_eq!(compare(&ja, &en), vec![]);
            // Another day is flagged on both sides, where it is written.
            let d2 = d % 28 + 1;
            let en2 = format!("## Schedule\n\n{d2} {} {y}, {h}:{min:02} in Tokyo\n", MONTH_NAMES[m as usize - 1]);
            let m2 = compare(&ja, &en2);
            prop_assert!(m2.iter().any(|x| x.code() == "date-differs" && x.side == Side::Ja && x.fact.line == 3 && x.fact.col == 1), "{:?}", m2);
        }

        #[test]
        fn any_text_agrees_with_itself_and_positions_point_at_the_raw_text(text in "[あ-ん年月日時分円0-9０-９:, .$¥a-zA-Z@\n#-]{0,120}") {
            prop_assert_eq!(compare(&text, &text), vec![]);
            let lines: Vec<&str> = text.split('\n').collect();
            for f in extract(&text) {
                let line: String = lines[f.line - 1].chars().skip(f.col - 1).collect();
                prop_assert!(line.starts_with(&f.raw), "{:?} not at {}:{} of {:?}", f, f.line, f.col, text);
            }
        }
    }
}
