"""Signals other parts connect to, so erasure reaches data the audience app does not own."""

from django.dispatch import Signal

# Sent inside the erasure transaction, before the rows go, with `subscriber_ids`
# and `email_hashes`: other apps blank their copies of the address (e.g. the
# delivery ledger's email snapshot) so the erasure is real everywhere.
subscribers_erasing = Signal()
