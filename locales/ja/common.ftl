# すべてのページとメールで共通の文言。キーは ja と en の両方に必要です
# （`kairan check` が確認します）。
language-name = 日本語
other-language-name = English
other-language-link = Read in English
