"""Does a sign-up's answer time tell who is subscribed? Time POST /api/public/subscription.

    python bench/signup_timing.py [--rounds 200] [--smtp-delay-ms 300]

A fresh SQLite database in a temporary folder; a double opt-in list; a sender
whose SMTP server (in this process) takes --smtp-delay-ms to answer, as in the
issue that measured 322 ms for a new address against 9 ms for a known one.
Each round posts, in a shuffled order, one new address, one confirmed
subscriber, one that unsubscribed and one blocklisted, through Django's test
client (the whole request: middleware, CORS, the rate count, the stored
request). Prints the median and the 90th percentile per kind. The worker's
part (subscribing, sending the confirmation) is not in the request at all.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--smtp-delay-ms", type=int, default=300)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="postroom-bench-")
    os.environ.update(
        DATABASE_URL=f"sqlite:///{folder}/bench.sqlite3",
        POSTROOM_DATA_DIR=folder,
        POSTROOM_SUBSCRIBE_LIMIT=str(10**9),
        DJANGO_SETTINGS_MODULE="postroom.settings",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from postroom.audience import services as audience
    from postroom.audience.models import Subscriber
    from postroom.delivery.models import Sender
    from postroom.testing.smtpserver import CaptureServer

    call_command("migrate", verbosity=0)
    digest = audience.create_list("Digest", optin="double", public=True)
    server = CaptureServer(delay={"DATA": args.smtp_delay_ms / 1000})
    server.start()
    Sender.objects.create(name="slow", host=server.host, port=server.port, tls="none")
    client = Client(HTTP_HOST="127.0.0.1")
    kinds = ["new", "known", "unsubscribed", "blocklisted"]
    people = {kind: [] for kind in kinds}
    for n in range(args.rounds):
        people["new"].append(f"new{n}@example.com")
        for kind in kinds[1:]:
            address = f"{kind}{n}@example.com"
            person = audience.add_subscriber(address, lists=[digest], preconfirmed=True)
            if kind == "unsubscribed":
                audience.unsubscribe(person)
            elif kind == "blocklisted":
                audience.blocklist(Subscriber.objects.filter(pk=person.pk))
            people[kind].append(address)
    timings: dict[str, list[float]] = {kind: [] for kind in kinds}
    lists = [str(digest.uuid)]
    post = lambda address: client.post(  # noqa: E731
        "/api/public/subscription",
        {"email": address, "lists": lists},
        content_type="application/json",
    )
    post("warmup@example.com")
    for n in range(args.rounds):
        order = kinds[:]
        random.shuffle(order)
        for kind in order:
            started = time.perf_counter()
            response = post(people[kind][n])
            timings[kind].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.content
    server.stop()
    print(f"POST /api/public/subscription, {args.rounds} rounds, SMTP answering in "
          f"{args.smtp_delay_ms} ms (SQLite)")  # fmt: skip
    for kind in kinds:
        values = sorted(timings[kind])
        p90 = values[int(len(values) * 0.9)]
        print(f"  {kind:13} median {statistics.median(values):6.2f} ms   p90 {p90:6.2f} ms")
    print(f"  mail sent during the requests: {len(server.messages)}")


if __name__ == "__main__":
    main()
