# Fixed strings of the newsletter mail (templates/email/issue.*).
email-view-in-browser = View in your browser
email-greeting = Dear { $name },
email-greeting-anonymous = Dear reader,
email-footer-why = You receive this because you subscribed to { $newsletter }.
email-footer-sender = Sender: { $sender }
email-footer-address = Address: { $address }
email-footer-contact = Complaints and questions: { $contact }
email-footer-optout = You can stop receiving this newsletter at any time with the link below (one click, no login).
email-footer-unsubscribe = Unsubscribe
email-footer-preferences = Change language
# The `both` mail starts with a link (HTML) or a line (text) to its English part.
email-jump-english = English version below ↓
email-jump-english-text = The English version follows the Japanese below.
