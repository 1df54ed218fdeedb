# The reader side of issue 13: confirm by button, abuse resistance, embedding, the
# unsubscribe-link request, self-service (templates/pages/).
confirm-title = Confirm your subscription
confirm-heading = Confirm your subscription
confirm-text = Press the button to start receiving { $newsletter } at this address.
confirm-button = Confirm my subscription
confirm-ignore = If you did not ask for this, close this page: nothing happens until the button is pressed.
subscribe-again = Please check the form and press Subscribe once more to send it.
field-homepage = Leave this field empty
forbidden-title = Form not accepted
forbidden-heading = This form cannot be sent from that site
forbidden-text = The form was sent from a site that is not allowed to send it to us. Nothing was stored.
forbidden-subscribe = Subscribe on our own page
embed-title = Subscribe form for your site
embed-heading = Put the subscribe form on your own site
embed-intro = Copy one of these forms into a page of your site. It needs no JavaScript and sends nothing to anyone but this server.
embed-origins = Pages of these sites may send it:
embed-no-origins = No site may send this form yet: list your site's origin (like https://www.example.org) in subscribe.embed_origins.
embed-copy = HTML to copy
embed-lang-ja = In Japanese
embed-lang-en = In English
embed-steps = When a reader presses the button, this server checks the form, may show it once more to be sent again (a check against bots), and then shows "check your inbox" or sends the reader to subscribe.thank_you_url.
# The mail a reader asks for on the "link not valid" page (templates/email/unsubscribe-request.*).
unsubscribe-request-mail-body = Someone, probably you, asked for a link to stop receiving { $newsletter } at this address. Open this link and confirm:
unsubscribe-request-mail-ignore = If you did not ask for this, ignore this message: nothing has changed.
link-request-heading = Want to stop receiving the newsletter?
link-request-text = Enter your address and we will send a link to unsubscribe from { $newsletter } to it, if it is on our list.
link-request-button = Send me an unsubscribe link
link-request-contact = Any question? Write to us:
link-requested-title = Check your inbox
link-requested-heading = Check your inbox
link-requested-text = If this address is on our list, we have just sent it a link to unsubscribe. It can take a few minutes; look in your spam folder too.
data-heading = Your data
data-download-text = Download everything we keep about you: your address, name, language and the record of your consent.
data-download-button = Download my data (JSON)
data-erase-text = Erase your address and name from { $newsletter } for good. We keep only a one-way fingerprint of the address, so that it is never added again without you.
data-erase-button = Erase me
erased-title = Erased
erased-heading = Your data was erased
erased-text = Your address and name are no longer stored, and you will not receive { $newsletter } any more.
footer-privacy = Privacy policy
footer-contact = Contact:
mail-footer-sender-only = Sent by { $sender }
mail-footer-privacy = Privacy policy: { $url }
# Proof of work on the subscribe form (subscribe.proof_of_work; /static/pow.js).
pow-needs-js = This form needs JavaScript. To keep automated sign-ups out without any outside service, your browser does a short calculation before the form can be sent; nothing leaves your browser but the form. Please turn JavaScript on for this page.
pow-working = Preparing the form (a short calculation against automated sign-ups)…
pow-done = Ready: you can send the form.
