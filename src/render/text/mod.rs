//! Pure text rendering for the newsletter: display-width wrapping with
//! Japanese line-breaking rules, Markdown to plain text / HTML, ISO-2022-JP
//! encoding with diagnostics, and RFC 2047 header encoding.
//!
//! Everything here is a pure function of its input (no I/O), so it can be
//! tested exhaustively and reused by the mail builder and the preview tools.

pub mod iso2022jp;
pub mod markdown;
pub mod rfc2047;
pub mod wrap;

pub use self::iso2022jp::{
    SUBSTITUTE, Unencodable, check_iso2022jp, legacy_stand_in, lossy_iso2022jp, to_iso2022jp,
};
pub use self::markdown::{
    LinkProblem, LinkProblemKind, check_links, markdown_to_html, markdown_to_text,
};
pub use self::rfc2047::{HeaderCharset, encode_header_word, encode_header_word_after};
pub use self::wrap::{
    DEFAULT_WIDTH, MAX_LINE_OCTETS, display_width, hard_split_line, wrap, wrap_paragraph,
};

#[cfg(test)]
mod tests {
    //! End-to-end: Markdown source to a 7-bit ISO-2022-JP body and headers.
    use super::*;

    const ISSUE: &str = "\
# かいらん通信 第42号

技能実習生の権利を守るために、私たちは2015年から無料相談窓口を運営しています。
相談は毎週土曜日10時〜16時、[オンライン](https://example.org/soudan)でも受け付けています。

- 賃金未払い：120件
- 長時間労働：87件
";

    #[test]
    fn markdown_to_iso2022jp_mail_body() {
        assert!(check_links(ISSUE).is_empty());
        let text = markdown_to_text(ISSUE, DEFAULT_WIDTH);
        assert!(check_iso2022jp(&text).is_empty());
        let body = to_iso2022jp(&text).expect("encodable");
        assert!(body.iter().all(u8::is_ascii));
        let (decoded, _) = encoding_rs::ISO_2022_JP.decode_without_bom_handling(&body);
        // 〜 (WAVE DASH) travels as JIS 0x2141 and comes back as ～.
        assert_eq!(decoded, text.replace('〜', "～"));
        for line in body.split(|&b| b == b'\n') {
            assert!(line.len() <= MAX_LINE_OCTETS);
        }
        let subject = encode_header_word_after("かいらん通信 第42号", HeaderCharset::Iso2022Jp, 9);
        assert!(subject.starts_with("=?ISO-2022-JP?B?"));
    }

    #[test]
    fn unencodable_characters_are_located_in_rendered_text() {
        let text = markdown_to_text("# 報告\n\n①賃金未払い、㈱〇〇の事例 😀", DEFAULT_WIDTH);
        let problems = check_iso2022jp(&text);
        let found: Vec<(usize, usize, char)> =
            problems.iter().map(|p| (p.line, p.col, p.ch)).collect();
        assert_eq!(found, [(4, 1, '①'), (4, 8, '㈱'), (4, 15, '😀')]);
        let (bytes, _) = lossy_iso2022jp(&text);
        let (decoded, _) = encoding_rs::ISO_2022_JP.decode_without_bom_handling(&bytes);
        assert!(
            decoded.contains("(1)賃金未払い、(株)〇〇の事例 "),
            "{decoded}"
        );
    }
}
