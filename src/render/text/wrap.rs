//! Display-width line wrapping for mixed Japanese / English plain text.
//!
//! Widths are terminal/mail-client columns as reported by `unicode-width`
//! (East Asian Wide and Fullwidth characters count 2, everything else 1,
//! combining marks 0).  Ambiguous-width characters (`①`, `■`, `※`, `…`,
//! curly quotes) count 1, as in a Western font; in a Japanese font such a
//! line may come out a column or two wider than `width`.
//!
//! Where a line may break:
//!
//! * at whitespace, which is dropped at the break (English and Latin runs
//!   inside Japanese break only there, so a word longer than the width is
//!   left whole and overflows);
//! * between two characters when either of them is "ideographic" (display
//!   width 2, or half-width katakana) — Japanese has no spaces;
//! * never inside a URL (`http://`, `https://`, `mailto:`), which runs to the
//!   next whitespace or non-ASCII character;
//! * never before a closing bracket / punctuation / small kana (行頭禁則) and
//!   never after an opening bracket (行末禁則); these rules also hold across
//!   whitespace, so `foo 。` is kept together;
//! * never before a zero-width character (combining marks, variation
//!   selectors) or after a ZERO WIDTH JOINER, so grapheme clusters stay whole;
//! * never between two identical leaders/dashes (`……`, `――`, 分離禁止);
//! * never before an ASCII `[` attached to the preceding character, so that
//!   footnote markers (`報告書[1]`) stay with their word.
//!
//! Lines are packed greedily.  The only exception to the rules above is the
//! RFC 5322 limit: no line may exceed [`MAX_LINE_OCTETS`] bytes.  A single
//! unbreakable run longer than that (a giant URL, a kilobyte-long "word") is
//! cut hard at a character boundary as a last resort — preferring not to cut
//! in front of a combining mark — and the pieces go on consecutive lines.
//! That is the one case where a URL is split, because otherwise the message
//! would be illegal and relays may mangle it anyway.

use std::borrow::Cow;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Default wrap width in columns: leaves room for `> ` quoting inside 78.
pub const DEFAULT_WIDTH: usize = 76;

/// RFC 5322 §2.1.1: a line must not exceed 998 octets excluding the CRLF.
pub const MAX_LINE_OCTETS: usize = 998;

/// Display width of a string in columns (see module docs for the rules).
pub fn display_width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

fn char_width(c: char) -> usize {
    // Control characters have no defined width; treat them as zero so they
    // never create a break opportunity of their own.
    UnicodeWidthChar::width(c).unwrap_or(0)
}

/// Characters a line must not start with (行頭禁則): closing brackets and
/// quotes, sentence punctuation, small kana, iteration marks, the prolonged
/// sound mark, dashes that attach to the previous word, and postfix units.
pub fn is_no_line_start(c: char) -> bool {
    matches!(
        c,
        // Japanese punctuation and closing brackets.
        '。' | '、' | '，' | '．' | '・' | '：' | '；' | '？' | '！' | '‼' | '⁇' | '⁈' | '⁉'
            | '」' | '』' | '）' | '］' | '｝' | '〕' | '〉' | '》' | '】' | '〙' | '〗' | '〟'
            | '｠' | '⦆' | '’' | '”'
            // Small kana, prolonged sound mark, iteration marks, sound marks.
            | 'ぁ' | 'ぃ' | 'ぅ' | 'ぇ' | 'ぉ' | 'っ' | 'ゃ' | 'ゅ' | 'ょ' | 'ゎ' | 'ゕ' | 'ゖ'
            | 'ァ' | 'ィ' | 'ゥ' | 'ェ' | 'ォ' | 'ッ' | 'ャ' | 'ュ' | 'ョ' | 'ヮ' | 'ヵ' | 'ヶ'
            | '\u{31F0}'..='\u{31FF}'
            | 'ー' | 'ゝ' | 'ゞ' | 'ヽ' | 'ヾ' | '々' | '〻' | '〃' | '゛' | '゜'
            // Hyphens and swung dashes.
            | '‐' | '゠' | '–' | '〜' | '～'
            // Postfix units (JIS X 4051 後置省略記号).
            | '％' | '℃' | '°' | '′' | '″' | '‰'
            // Half-width forms used in older Japanese text.
            | '｡' | '｣' | '､' | '･' | 'ｰ' | 'ﾞ' | 'ﾟ' | 'ｧ'..='ｯ'
            // ASCII closing brackets and punctuation.
            | ')' | ']' | '}' | ',' | '.' | '!' | '?' | ':' | ';'
    )
}

/// Characters a line must not end with (行末禁則): opening brackets/quotes.
pub fn is_no_line_end(c: char) -> bool {
    matches!(
        c,
        '「' | '『'
            | '（'
            | '［'
            | '｛'
            | '〔'
            | '〈'
            | '《'
            | '【'
            | '〘'
            | '〖'
            | '〝'
            | '｟'
            | '⦅'
            | '｢'
            | '‘'
            | '“'
            | '('
            | '['
            | '{'
    )
}

/// Whitespace that is a break opportunity.  No-break spaces are excluded on
/// purpose: an author who typed one asked for the words to stay together.
fn is_break_space(c: char) -> bool {
    c.is_whitespace() && !matches!(c, '\u{A0}' | '\u{2007}' | '\u{202F}')
}

/// "Ideographic" characters around which Japanese may break without a
/// space: anything the width tables call wide (kanji, kana, full-width
/// punctuation, Hangul, emoji) plus half-width katakana.
pub(crate) fn is_ideographic(c: char) -> bool {
    char_width(c) == 2 || ('\u{FF61}'..='\u{FF9F}').contains(&c)
}

/// Leaders and dashes that must not be separated from an identical
/// neighbour (分離禁止): `……`, `‥‥`, `――`, `——`.
fn is_inseparable(c: char) -> bool {
    matches!(c, '…' | '‥' | '―' | '—')
}

/// May a line break between `a` and `b`?  `spaced` says whether whitespace
/// separates them.  Both are non-whitespace characters.
fn can_break(a: char, b: char, spaced: bool) -> bool {
    if is_no_line_start(b) || is_no_line_end(a) {
        return false;
    }
    if char_width(b) == 0 || a == '\u{200D}' {
        return false;
    }
    if spaced {
        return true;
    }
    // Keep footnote markers (`権利[1]`, written by the Markdown renderer) on
    // the line of the word they annotate.
    if b == '[' {
        return false;
    }
    if a == b && is_inseparable(a) {
        return false;
    }
    is_ideographic(a) || is_ideographic(b)
}

/// Length in bytes of the URL starting at the beginning of `s`, if any.
///
/// A URL runs over printable ASCII up to the first whitespace, non-ASCII
/// character, or `<`, `>`, `"` (the usual delimiters around URLs in text).
/// Non-ASCII IRIs are therefore only protected up to their first non-ASCII
/// character; percent-encode them (the Markdown renderer does so for the
/// footnotes it prints).
fn url_len(s: &str) -> Option<usize> {
    const SCHEMES: [&str; 3] = ["http://", "https://", "mailto:"];
    let scheme = SCHEMES.iter().find(|p| {
        s.len() >= p.len() && s.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
    })?;
    let rest = &s[scheme.len()..];
    let body = rest
        .find(|c: char| !c.is_ascii_graphic() || matches!(c, '<' | '>' | '"'))
        .unwrap_or(rest.len());
    (body > 0).then_some(scheme.len() + body)
}

/// An unbreakable piece of a paragraph and the whitespace before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unit<'a> {
    /// Whitespace preceding the unit (kept only when no break happens here).
    pub ws: &'a str,
    /// The unit itself; may contain whitespace that is not a break (kinsoku
    /// across a space), never starts or ends with break whitespace.
    pub body: &'a str,
}

/// Split a single logical line into units at every break opportunity.
pub(crate) fn segment(text: &str) -> Vec<Unit<'_>> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let n = chars.len();
    let pos = |i: usize| if i < n { chars[i].0 } else { text.len() };

    // Mark characters that belong to a URL: no break inside those.
    let mut url_id = vec![0usize; n];
    let mut next_id = 1;
    let mut i = 0;
    while i < n {
        if let Some(len) = url_len(&text[chars[i].0..]) {
            let end = chars[i].0 + len;
            while i < n && chars[i].0 < end {
                url_id[i] = next_id;
                i += 1;
            }
            next_id += 1;
        } else {
            i += 1;
        }
    }

    let mut units = Vec::new();
    let mut i = 0;
    while i < n && is_break_space(chars[i].1) {
        i += 1;
    }
    if i == n {
        return units;
    }
    let mut ws_start = 0;
    let mut body_start = pos(i);
    loop {
        // `i` is a non-space character; find the next one.
        let mut k = i + 1;
        while k < n && is_break_space(chars[k].1) {
            k += 1;
        }
        if k == n {
            // Trailing whitespace of the paragraph is dropped.
            units.push(Unit {
                ws: &text[ws_start..body_start],
                body: &text[body_start..pos(i + 1)],
            });
            return units;
        }
        let same_url = url_id[i] != 0 && url_id[i] == url_id[k];
        if !same_url && can_break(chars[i].1, chars[k].1, k > i + 1) {
            units.push(Unit {
                ws: &text[ws_start..body_start],
                body: &text[body_start..pos(i + 1)],
            });
            ws_start = pos(i + 1);
            body_start = pos(k);
        }
        i = k;
    }
}

/// Make `text` a single line: vertical whitespace and tabs become plain
/// spaces (one for one) so that no line break can survive inside a line.
fn single_line(text: &str) -> Cow<'_, str> {
    let odd = |c: char| is_break_space(c) && c != ' ' && c != '\u{3000}';
    if text.contains(odd) {
        Cow::Owned(text.chars().map(|c| if odd(c) { ' ' } else { c }).collect())
    } else {
        Cow::Borrowed(text)
    }
}

/// Largest cut point `<= max` bytes into `s` (`s.len() > max`): a char
/// boundary, preferably not in front of a zero-width character, and never
/// zero (at least one character is taken, even if that exceeds `max`).
fn hard_cut(s: &str, max: usize) -> usize {
    let mut cut = max.min(s.len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut soft = cut;
    while soft > 0 && s[soft..].chars().next().is_some_and(|c| char_width(c) == 0) {
        soft -= 1;
        while !s.is_char_boundary(soft) {
            soft -= 1;
        }
    }
    if soft > 0 {
        cut = soft;
    }
    if cut == 0 {
        cut = s.chars().next().map_or(s.len(), char::len_utf8);
    }
    cut
}

/// Split a line that must stay verbatim (code, table row, footnote URL)
/// into pieces of at most [`MAX_LINE_OCTETS`] bytes including `prefix`
/// (later pieces get `cont_prefix`).  Trailing whitespace is removed.
pub fn hard_split_line(prefix: &str, line: &str, cont_prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::from(prefix);
    let mut rest = line.trim_end();
    while cur.len() + rest.len() > MAX_LINE_OCTETS {
        let cut = hard_cut(rest, MAX_LINE_OCTETS.saturating_sub(cur.len()));
        cur.push_str(&rest[..cut]);
        out.push(cur.trim_end().to_string());
        cur = String::from(cont_prefix);
        rest = &rest[cut..];
    }
    cur.push_str(rest);
    out.push(cur.trim_end().to_string());
    out
}

/// Wrap one paragraph (a single logical line) to `width` columns.
///
/// `first_prefix` starts the first line and `rest_prefix` every other line;
/// both count towards `width` (use `"- "` / `"  "` for a hanging indent,
/// `"> "` / `"> "` for quoting).  Leading whitespace of `text` is kept on the
/// first line (e.g. a `　` paragraph indent); whitespace at a break is
/// dropped; trailing whitespace is removed from every line.  Newlines and
/// tabs inside `text` are treated as spaces.  Always returns at least one
/// line.  The prefixes are assumed to be far shorter than 998 bytes.
pub fn wrap_paragraph(
    text: &str,
    width: usize,
    first_prefix: &str,
    rest_prefix: &str,
) -> Vec<String> {
    let text = single_line(text);
    let rest_w = display_width(rest_prefix);
    let mut lines = Vec::new();
    let mut line = String::from(first_prefix);
    let mut line_w = display_width(first_prefix);
    let mut has_content = false;
    let mut first_line = true;

    for unit in segment(&text) {
        // Leading whitespace survives only at the very start of the
        // paragraph; at a continuation line's start it is the break itself.
        let mut ws = if has_content || first_line {
            unit.ws
        } else {
            ""
        };
        let body_w = display_width(unit.body);
        if has_content
            && (line_w + display_width(ws) + body_w > width
                || line.len() + ws.len() + unit.body.len() > MAX_LINE_OCTETS)
        {
            lines.push(line.trim_end().to_string());
            line = String::from(rest_prefix);
            line_w = rest_w;
            first_line = false;
            ws = "";
        }
        line.push_str(ws);
        line_w += display_width(ws);
        let mut body = unit.body;
        // Last resort for RFC 5322: cut an oversized token hard.
        while line.len() + body.len() > MAX_LINE_OCTETS {
            let cut = hard_cut(body, MAX_LINE_OCTETS.saturating_sub(line.len()));
            line.push_str(&body[..cut]);
            lines.push(line.trim_end().to_string());
            line = String::from(rest_prefix);
            line_w = rest_w;
            first_line = false;
            body = &body[cut..];
        }
        line.push_str(body);
        line_w += display_width(body);
        has_content = true;
    }
    lines.push(line.trim_end().to_string());
    lines
}

/// Expand tabs to the next multiple of 8 columns.
fn expand_tabs(line: &str) -> Cow<'_, str> {
    if !line.contains('\t') {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len() + 8);
    let mut col = 0;
    for c in line.chars() {
        if c == '\t' {
            let n = 8 - col % 8;
            out.extend(std::iter::repeat_n(' ', n));
            col += n;
        } else {
            out.push(c);
            col += char_width(c);
        }
    }
    Cow::Owned(out)
}

/// Split an input line into (first-line prefix, continuation prefix, body)
/// for [`wrap`]: ASCII-space indentation, `>` quote markers, and one list
/// marker (`-`, `*`, `+`, `•` followed by a space; `・`; `1.` / `1)`
/// followed by a space).  Continuation lines repeat the quote markers and
/// are indented to where the item text starts.
fn split_prefix(line: &str) -> (&str, String, &str) {
    let bytes = line.as_bytes();
    let mut i = 0;
    let mut quote_end = 0;
    loop {
        while i < bytes.len() && bytes[i] == b' ' {
            i += 1;
        }
        if i < bytes.len() && bytes[i] == b'>' {
            i += 1;
            if i < bytes.len() && bytes[i] == b' ' {
                i += 1;
            }
            quote_end = i;
        } else {
            break;
        }
    }
    let rest = &line[i..];
    let marker_len = if rest.starts_with('・') {
        '・'.len_utf8()
    } else if let Some(m) = ["- ", "* ", "+ ", "• "]
        .iter()
        .find(|m| rest.starts_with(**m))
    {
        m.len()
    } else {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let tail = rest.as_bytes().get(digits..digits + 2);
        if (1..=9).contains(&digits) && matches!(tail, Some(b". ") | Some(b") ")) {
            digits + 2
        } else {
            0
        }
    };
    i += marker_len;
    while i < bytes.len() && bytes[i] == b' ' {
        i += 1;
    }
    let first = &line[..i];
    let quote = line[..quote_end].trim_end();
    let mut cont = String::from(line[..quote_end].trim_end());
    if !quote.is_empty() {
        cont.push(' ');
    }
    let pad = display_width(first).saturating_sub(display_width(&cont));
    cont.extend(std::iter::repeat_n(' ', pad));
    (first, cont, &line[i..])
}

/// Wrap plain text to `width` columns (use [`DEFAULT_WIDTH`] normally).
///
/// Every input line is wrapped on its own, so existing line breaks and
/// blank lines are kept (`\r\n` is read as a line break; output uses `\n`,
/// the mail layer converts to CRLF).  Indentation, `>` quoting and list
/// markers are recognised: continuation lines of `- item`, `1. item` or
/// `・項目` are indented to the item text, and continuation lines of an
/// indented block keep its indentation.  A leading ideographic space
/// (`　`, the Japanese paragraph indent) indents only the first line.
/// Tabs are expanded to 8-column stops.  See the module docs for the break
/// rules and the 998-octet guarantee.
pub fn wrap(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    for (n, raw) in text.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let line = expand_tabs(raw.strip_suffix('\r').unwrap_or(raw));
        let (first, cont, body) = split_prefix(&line);
        for (k, l) in wrap_paragraph(body, width, first, &cont).iter().enumerate() {
            if k > 0 {
                out.push('\n');
            }
            out.push_str(l);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const JA_1: &str = "私たちは2015年から、外国人技能実習生のための無料相談窓口を運営してきました。今年度の相談件数は過去最多の412件にのぼり、その多くが賃金未払い、長時間労働、パスポートの取り上げといった深刻な人権侵害に関するものでした。詳しくは年次報告書（https://example.org/reports/2024/annual-report.pdf）をご覧ください。";
    const JA_2: &str = "ベトナム出身のグエンさん（仮名）は、「毎日14時間働いても、残業代は一度も払われなかった。帰国したくても、借金があるので帰れない」と話します。私たちはlabor standards inspection office（労働基準監督署）への申告を支援し、未払い賃金の一部が支払われました。しかし、ブローカーへの借金はまだ残っています。";
    const JA_3: &str = "6月20日の「世界難民の日」には、オンライン・セミナー\"Human Rights in Supply Chains\"を開催します。参加費は無料、日英の同時通訳つきです。お申し込みはhttps://example.org/events/2024-06-20?lang=ja&ref=newsletterからどうぞ。ご質問はmailto:info@example.orgまで、お気軽にお問い合わせください。";
    const EN_1: &str = "Since 2015 we have run a free hotline for technical intern trainees in Japan. This year we received 412 requests for help - the highest number ever - most of them about unpaid wages, excessive overtime and confiscated passports. Read the full annual report at https://example.org/reports/2024/annual-report.pdf and share it with your colleagues.";

    fn strip_ws(s: &str) -> String {
        s.chars().filter(|c| !c.is_whitespace()).collect()
    }

    /// Checks the invariants every wrapped paragraph must satisfy.
    fn check_paragraph(text: &str, width: usize, first: &str, rest: &str, lines: &[String]) {
        assert!(!lines.is_empty());
        let strip = |i: usize, l: &'_ str| -> String {
            let p = if i == 0 { first } else { rest };
            l.strip_prefix(p)
                .or_else(|| l.strip_prefix(p.trim_end()))
                .unwrap_or_else(|| panic!("line {l:?} lacks prefix {p:?}"))
                .to_string()
        };
        let joined: String = lines.iter().enumerate().map(|(i, l)| strip(i, l)).collect();
        assert_eq!(strip_ws(&joined), strip_ws(text), "content changed");
        let last = lines.len() - 1;
        // A line cut hard at the octet limit may legitimately be followed
        // by a line starting with any character.
        let hard_cut = |i: usize| lines[i].len() + 4 > MAX_LINE_OCTETS;
        for (i, l) in lines.iter().enumerate() {
            assert!(l.len() <= MAX_LINE_OCTETS, "line over 998 octets");
            assert_eq!(l.trim_end(), l, "trailing whitespace in {l:?}");
            let content = strip(i, l);
            if display_width(l) > width {
                assert!(
                    segment(&content).len() <= 1,
                    "line {l:?} is {} wide (> {width}) but breakable",
                    display_width(l)
                );
            }
            if i > 0 && !hard_cut(i - 1) {
                let c = content.chars().next();
                assert!(
                    !c.is_some_and(is_no_line_start),
                    "line {l:?} starts with a forbidden char"
                );
            }
            if i < last && !hard_cut(i) {
                let c = l.chars().next_back();
                assert!(
                    !c.is_some_and(is_no_line_end),
                    "line {l:?} ends with an opening bracket"
                );
            }
        }
    }

    fn wp(text: &str, width: usize) -> Vec<String> {
        let lines = wrap_paragraph(text, width, "", "");
        check_paragraph(text, width, "", "", &lines);
        lines
    }

    #[test]
    fn japanese_prose_wraps_within_width() {
        for text in [JA_1, JA_2, JA_3] {
            let lines = wp(text, DEFAULT_WIDTH);
            assert!(lines.len() > 2);
            for l in &lines {
                assert!(display_width(l) <= DEFAULT_WIDTH, "{l:?}");
            }
            // Lines should be reasonably full: greedy packing of 2-column
            // characters never leaves more than a few columns unused except
            // where a URL or kinsoku pushes a run over.
            let full = lines[..lines.len() - 1]
                .iter()
                .filter(|l| display_width(l) >= DEFAULT_WIDTH - 6)
                .count();
            assert!(full * 2 >= lines.len() - 1, "{lines:#?}");
        }
    }

    #[test]
    fn japanese_urls_stay_whole() {
        let out = wrap(JA_1, 40);
        assert!(out.contains("https://example.org/reports/2024/annual-report.pdf"));
        let out = wrap(JA_3, 30);
        assert!(out.contains("https://example.org/events/2024-06-20?lang=ja&ref=newsletter"));
        assert!(out.contains("mailto:info@example.org"));
        // Latin words inside Japanese are not split either.
        let out = wrap(JA_2, 20);
        for w in ["labor", "standards", "inspection", "office"] {
            assert!(out.lines().any(|l| l.contains(w)), "{out}");
        }
    }

    #[test]
    fn english_breaks_only_at_spaces() {
        let lines = wp(EN_1, DEFAULT_WIDTH);
        let words: Vec<&str> = EN_1.split(' ').collect();
        let rejoined: Vec<&str> = lines.iter().flat_map(|l| l.split(' ')).collect();
        assert_eq!(words, rejoined);
        assert!(lines.iter().all(|l| display_width(l) <= DEFAULT_WIDTH));
        assert_eq!(
            lines[0],
            "Since 2015 we have run a free hotline for technical intern trainees in"
        );
    }

    #[test]
    fn long_word_stays_whole() {
        let lines = wp("a supercalifragilisticexpialidocious word", 10);
        assert_eq!(lines, ["a", "supercalifragilisticexpialidocious", "word"]);
    }

    #[test]
    fn kinsoku_pushes_previous_char_down() {
        // Naively "。" would start line 2; instead "お" comes down with it.
        assert_eq!(
            wp("あいうえお。かきくけこ", 10),
            ["あいうえ", "お。かきく", "けこ"]
        );
        // An opening bracket never ends a line.
        assert_eq!(wp("あいうえ「かき」", 10), ["あいうえ", "「かき」"]);
        // Small kana and the prolonged sound mark do not start a line.
        assert_eq!(wp("あいうちょっと", 8), ["あいう", "ちょっと"]);
        assert_eq!(wp("あいうえコーヒー", 10), ["あいうえ", "コーヒー"]);
        // Closing punctuation after a space still sticks to the word.
        assert_eq!(wp("abc def !", 7), ["abc", "def !"]);
        // Leaders are not separated.
        assert_eq!(wp("あいう……", 7), ["あいう", "……"]);
    }

    #[test]
    fn ascii_brackets_follow_kinsoku() {
        assert_eq!(wp("あいう(えお)", 8), ["あいう", "(えお)"]);
        assert_eq!(wp("あいうえ), か", 9), ["あいう", "え), か"]);
    }

    #[test]
    fn hanging_indent_for_list_items() {
        let text = "- 技能実習制度の廃止と、新しい「育成就労」制度への移行について、政府に意見書を提出しました。";
        let out = wrap(text, 30);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.len() > 1);
        assert!(lines[0].starts_with("- 技能"));
        for l in &lines[1..] {
            assert!(l.starts_with("  ") && !l.starts_with("   "), "{l:?}");
        }
        let out = wrap("  12. one two three four five six seven", 16);
        assert_eq!(
            out,
            "  12. one two\n      three four\n      five six\n      seven"
        );
        let out = wrap("・外国人労働者の相談対応と通訳ボランティアの育成", 20);
        assert_eq!(
            out.lines()
                .nth(1)
                .unwrap()
                .chars()
                .take(2)
                .collect::<String>(),
            "  "
        );
        let out = wrap("> > quoted words go here and there", 14);
        assert_eq!(out, "> > quoted\n> > words go\n> > here and\n> > there");
    }

    #[test]
    fn ideographic_space_indents_first_line_only() {
        let out = wrap(
            "　私たちは、すべての人の尊厳が守られる社会をめざします。",
            20,
        );
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with('　'));
        assert!(!lines[1].starts_with(char::is_whitespace));
    }

    #[test]
    fn newlines_kept_and_trailing_spaces_removed() {
        let text = "第一段落です。   \r\n\r\nSecond paragraph.  \n";
        assert_eq!(wrap(text, 76), "第一段落です。\n\nSecond paragraph.\n");
    }

    #[test]
    fn giant_token_is_cut_at_998_octets() {
        let url = format!("https://example.org/{}", "a".repeat(2500));
        let text = format!("詳細は {url} をご覧ください。");
        let lines = wrap_paragraph(&text, 76, "> ", "> ");
        assert!(lines.iter().all(|l| l.len() <= MAX_LINE_OCTETS));
        let joined: String = lines.iter().map(|l| &l[2..]).collect();
        assert_eq!(strip_ws(&joined), strip_ws(&text));
        // The cut is exactly at the limit.
        assert_eq!(lines[1].len(), MAX_LINE_OCTETS);
        // Multi-byte: a long unbreakable run of "ー" (3 bytes each).
        let text = format!("あ{}", "ー".repeat(700));
        for l in wrap_paragraph(&text, 76, "", "") {
            assert!(l.len() <= MAX_LINE_OCTETS);
        }
        // Combining marks are not cut off their base when avoidable.
        let text = "e\u{301}".repeat(600);
        let lines = wrap_paragraph(&text, 76, "", "");
        assert!(lines.len() > 1);
        for l in &lines[1..] {
            assert!(!l.starts_with('\u{301}'));
        }
    }

    #[test]
    fn verbatim_lines_are_hard_split() {
        let long = "x".repeat(2000);
        let parts = hard_split_line("    ", &long, "    ");
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.len() <= MAX_LINE_OCTETS));
        assert_eq!(
            hard_split_line("[1] ", "https://x.org/  ", ""),
            ["[1] https://x.org/"]
        );
    }

    #[test]
    fn zero_width_and_emoji_sequences_stay_together() {
        let family = "👨\u{200D}👩\u{200D}👧";
        let text = format!("あ{family}い");
        for w in 1..8 {
            let out = wrap(&text, w);
            assert!(out.contains(family), "{out:?}");
        }
        // Combining dakuten stays on its base kana.
        let out = wrap("か\u{3099}か\u{3099}か\u{3099}", 2);
        assert!(out.lines().all(|l| l.chars().count() == 2));
    }

    #[test]
    fn empty_and_blank_input() {
        assert_eq!(wrap("", 76), "");
        assert_eq!(wrap("\n\n", 76), "\n\n");
        assert_eq!(wrap_paragraph("   ", 76, "> ", "> "), [">"]);
    }

    fn token() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[あいうえおかきくけこ技能実習生権利守る労働相談窓口]{1,8}",
            2 => "[。、「」『』（）ー・っゃょァッ！？…〜]",
            3 => "[a-zA-Z]{1,12}",
            1 => "[a-zA-Z]{14,40}",
            1 => "[,.!?:;()\\[\\]{}'\"-]",
            3 => "[ 　]{1,2}",
            1 => "https?://[a-z]{1,10}\\.(org|jp)/[a-zA-Z0-9/_.?=&%-]{0,90}",
            1 => "mailto:[a-z]{1,8}@example\\.org",
            1 => "[0-9]{1,5}",
            1 => "[ｱｲｳｶﾞｯｰ｡]{1,3}",
            1 => "[éüß①■※\u{301}]",
        ]
    }

    fn text_of(max_tokens: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(token(), 0..max_tokens).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn prop_paragraph_invariants(text in text_of(60), width in 1usize..100) {
            let lines = wrap_paragraph(&text, width, "", "");
            check_paragraph(&text, width, "", "", &lines);
        }

        #[test]
        fn prop_paragraph_with_prefixes(text in text_of(40), width in 1usize..60) {
            let lines = wrap_paragraph(&text, width, "> - ", ">   ");
            check_paragraph(&text, width, "> - ", ">   ", &lines);
        }

        #[test]
        fn prop_wrap_multiline(
            paras in prop::collection::vec(
                (prop_oneof![Just(""), Just("- "), Just("  "), Just("1. "), Just("・")], text_of(30)),
                0..5,
            ),
            width in 1usize..100,
        ) {
            let text = paras
                .iter()
                .map(|(p, t)| format!("{p}{t}"))
                .collect::<Vec<_>>()
                .join("\n");
            let out = wrap(&text, width);
            prop_assert_eq!(strip_ws(&out), strip_ws(&text));
            prop_assert!(out.matches('\n').count() >= text.matches('\n').count());
            for l in out.lines() {
                prop_assert!(l.len() <= MAX_LINE_OCTETS);
                prop_assert_eq!(l.trim_end(), l);
            }
        }

        #[test]
        fn prop_giant_tokens_respect_998(
            parts in prop::collection::vec(
                prop_oneof![
                    "[a-z]{1,8}",
                    "[あ技。「]{1,4}",
                    "[a-z/]{900,1500}".prop_map(|s| format!("https://example.org/{s}")),
                    "[ー]{300,500}",
                    Just(" ".to_string()),
                ],
                1..8,
            ),
            width in 1usize..100,
        ) {
            let text = parts.concat();
            let out = wrap(&text, width);
            prop_assert_eq!(strip_ws(&out), strip_ws(&text));
            for l in out.lines() {
                prop_assert!(l.len() <= MAX_LINE_OCTETS);
            }
        }
    }
}
