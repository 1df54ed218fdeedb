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
