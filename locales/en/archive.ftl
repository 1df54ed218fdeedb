# The web archive (/archive).
archive-title = Past issues
archive-heading = Past issues
archive-empty = No issue has been sent yet.
archive-sent-on = Sent on { $date }
archive-back = All past issues
archive-subscribe = Subscribe to the newsletter
archive-not-found-title = Not found
archive-not-found-text = We could not find that issue.
