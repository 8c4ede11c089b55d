# Postroom wrote dates as "3 December 2026" before it spoke other languages; Django's
# English default is "Dec. 3, 2026". The other languages keep Django's own formats.
DATE_FORMAT = "j F Y"
