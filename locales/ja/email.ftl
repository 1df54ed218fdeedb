# ニュースレター本文メールの定型文（templates/email/issue.*）。
email-view-in-browser = ブラウザで見る
email-greeting = { $name } 様
email-greeting-anonymous = 読者の皆さま
email-footer-why = このメールは「{ $newsletter }」の配信を希望された方にお送りしています。
email-footer-sender = 送信者：{ $sender }
email-footer-address = 住所：{ $address }
email-footer-contact = 苦情・お問い合わせ：{ $contact }
email-footer-optout = 配信を希望されない方は、次のリンクからいつでも配信を停止できます（ワンクリックで停止します）。
email-footer-unsubscribe = 配信停止
email-footer-preferences = 受信する言語の変更
# The `both` mail starts with a link (HTML) or a line (text) to its English part.
email-jump-english = English version below ↓
email-jump-english-text = The English version follows the Japanese below.
