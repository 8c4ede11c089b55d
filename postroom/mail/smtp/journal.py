"""The one hook the SMTP client offers to make a crash's in-doubt window exact.

A message can only have been accepted by the server once the final `.` of its
DATA was written. The client calls `dot` just before that write and `reply`
once the answer to it is read, before the connection waits for anything else,
writes its next dot or stops (usually together with that next dot, in one
call: `reply_and_dot`, so one write a message, not two; between reading the
answer and journaling it only this thread's own code runs, no wait); a
journal that makes both durable before returning (an unbuffered `os.write`
reaches the kernel, so it survives the process being killed) lets whoever
recovers a dead worker tell "never sent" from "maybe sent" from "accepted".
Between the two calls there is at most one message per open connection. The
delivery engine's implementation is `postroom.delivery.journal.WorkerJournal`;
this package needs no more than the interface.
"""

from __future__ import annotations

from typing import Any, Protocol

from postroom.mail.smtp.replies import SendResult


class Journal(Protocol):
    def dot(self, key: Any) -> None:
        """The final dot of the message with this key is about to be written."""
        ...

    def reply(self, result: SendResult) -> None:
        """The server answered that dot (`result.key` names the message)."""
        ...

    def reply_and_dot(self, result: SendResult, key: Any) -> None:
        """`reply(result)` then `dot(key)`, made durable together: a connection's answer
        to one message, not yet journaled, and its next message's final dot."""
        ...
