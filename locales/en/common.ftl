# Strings shared by every page and message. Each key must exist in ja and en alike
# (`kairan check` verifies it).
language-name = English
other-language-name = 日本語
other-language-link = 日本語で読む
