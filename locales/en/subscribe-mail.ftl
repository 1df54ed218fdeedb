# The confirmation and welcome mails (templates/email/confirm.*, welcome.*).
confirm-mail-subject = Please confirm your subscription to { $newsletter }
confirm-mail-greeting-named = Hello { $name },
confirm-mail-greeting = Hello,
confirm-mail-body = Someone, probably you, asked to receive { $newsletter } at this address. To confirm, open this link:
confirm-mail-button = Confirm my subscription
confirm-mail-expiry = The link is valid for { $days } days.
confirm-mail-ignore = If you did not ask for this, ignore this message: you will not be subscribed.
welcome-mail-subject = Welcome to { $newsletter }
welcome-mail-body = Your subscription is confirmed. You will receive { $newsletter } once a month.
welcome-mail-lang = Language: { $choice ->
    [ja] Japanese
    [en] English
   *[both] Japanese and English
}
welcome-mail-preferences = Change your language:
welcome-mail-unsubscribe = Unsubscribe at any time:
mail-footer-sender = Sent by { $sender }, { $address }
mail-footer-contact = Contact: { $contact }
# The answer to a mail sent to the bare return address (templates/email/unsubscribe-link.*).
unsubscribe-link-mail-subject = How to unsubscribe from { $newsletter }
unsubscribe-link-mail-body = We received a mail from this address at our bounce address, which no person reads. If you want to stop receiving { $newsletter }, open this link and confirm:
unsubscribe-link-mail-ignore = If you did not write to us, ignore this message: nothing has changed.
