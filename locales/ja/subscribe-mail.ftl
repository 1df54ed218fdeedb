# 確認メールと歓迎メール（templates/email/confirm.*, welcome.*）。
confirm-mail-subject = { $newsletter }購読のご確認
confirm-mail-greeting-named = { $name } 様
confirm-mail-greeting = こんにちは。
confirm-mail-body = このメールアドレスで{ $newsletter }の購読のお申し込みがありました。お申し込みを確定するには、次のリンクを開いてください。
confirm-mail-button = 購読を確定する
confirm-mail-expiry = リンクの有効期限は{ $days }日間です。
confirm-mail-ignore = お心当たりのない場合は、このメールを破棄してください。購読は開始されません。
welcome-mail-subject = { $newsletter }へようこそ
welcome-mail-body = 購読が確定しました。毎月1回、{ $newsletter }をお届けします。
welcome-mail-lang = 言語：{ $choice ->
    [ja] 日本語
    [en] 英語
   *[both] 日本語と英語
}
welcome-mail-preferences = 言語の変更：
welcome-mail-unsubscribe = 購読の解除（いつでも可能です）：
mail-footer-sender = 送信者：{ $sender }（{ $address }）
mail-footer-contact = お問い合わせ：{ $contact }
# 返送用アドレスに届いたメールへの返信（templates/email/unsubscribe-link.*）。
unsubscribe-link-mail-subject = { $newsletter }の購読解除の方法
unsubscribe-link-mail-body = このメールアドレスから、担当者が読まないエラーメール受付用アドレスにメールが届きました。{ $newsletter }の配信を停止する場合は、次のリンクを開いて解除を確定してください。
unsubscribe-link-mail-ignore = お心当たりのない場合は、このメールを破棄してください。何も変更されていません。
