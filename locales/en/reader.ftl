# The reader side of issue 13: confirm by button, abuse resistance, embedding, the
# unsubscribe-link request, self-service (templates/pages/).
confirm-title = Confirm your subscription
confirm-heading = Confirm your subscription
confirm-text = Press the button to start receiving { $newsletter } at this address.
confirm-button = Confirm my subscription
confirm-ignore = If you did not ask for this, close this page: nothing happens until the button is pressed.
subscribe-again = Please check the form and press Subscribe once more to send it.
field-homepage = Leave this field empty
