"""How fast is DKIM signing (RSA-2048, relaxed/relaxed) of a personalised 10 KB message?

    .venv/bin/python bench/dkim.py [N [MARKDOWN_CHARS]]

Prints messages per CPU-second on one core for:
  - stock dkimpy (`dkim.sign`, which parses the PEM key on every call),
  - dkimpy with its key parser cached (to see what caching the key alone buys),
  - postroom.mail.dkim (key parsed once, RSA by OpenSSL through `cryptography`),
and where our time goes (RSA signature vs canonicalising and hashing). Every
signature of the sample is checked with dkimpy's verifier. The target is at
least 1,000 messages/s end to end with DKIM on (see bench/send.py --dkim).

The machine is shared and has 2 cores: figures are noisy, run it twice.
CPU time is reported because the wall clock includes waiting for a core.
"""

import functools
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Python put bench/ first on the path, where `import dkim` would find this file, not
# dkimpy: move it to the end (bench/render.py is still found there).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))


def setup() -> None:
    os.environ.setdefault("POSTROOM_DATA_DIR", tempfile.mkdtemp(prefix="postroom-bench-dkim-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postroom.settings")
    import django

    django.setup()


def messages(count: int, body_size: int) -> list[bytes]:
    from render import make_body  # bench/render.py

    from postroom.mail.compose import CampaignSpec, Recipient, compile_campaign
    from postroom.mail.links import LinkSigner

    spec = CampaignSpec(
        campaign_id=42,
        name="Weekly",
        subject="{{ subscriber.first_name | default('Friend') }}, your weekly news",
        from_email="news@example.com",
        from_name="Example News",
        reply_to="editor@example.com",
        body=make_body(body_size),
        list_name="Weekly news",
        list_id="weekly.example.com",
    )
    compiled = compile_campaign(spec, LinkSigner("bench-secret", "https://news.example.com"))
    return [
        compiled.build(Recipient(i, f"user{i}@example.org", f"Ann{i} Example", {})).data
        for i in range(count)
    ]


def measure(label: str, sign, data: list[bytes]) -> float:
    """Messages per CPU-second for `sign` over `data`; prints one line."""
    started, cpu_started = time.perf_counter(), time.process_time()
    for message in data:
        sign(message)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    per_cpu_second = len(data) / cpu
    print(
        f"  {label:<44} {per_cpu_second:>8,.0f} msg per CPU-second"
        f"  ({cpu / len(data) * 1000:6.2f} ms CPU, {wall / len(data) * 1000:6.2f} ms wall each)",
        flush=True,
    )
    return per_cpu_second


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000
    # 3,000 characters of Markdown make a 10 KB message (HTML and text parts);
    # bench/send.py's 10 KB of Markdown make 30 KB.
    body_size = int(sys.argv[2]) if len(sys.argv) > 2 else 3_000
    setup()
    import dkim as dkimpy
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from postroom.mail.dkim import (
        SIGNED_HEADERS,
        Signer,
        crlf,
        generate_key_file,
        relaxed_body,
    )

    key_file = os.path.join(tempfile.mkdtemp(prefix="postroom-bench-dkim-key-"), "k.pem")
    generate_key_file(key_file, 2048)
    pem = Path(key_file).read_bytes()
    signer = Signer.from_file("example.com", "bench", key_file)
    data = messages(count, body_size)
    print(f"{count:,} personalised messages of {len(data[0]) / 1000:.1f} KB, RSA-2048 key")

    name, value = signer.dns_record()

    def dns(qname: bytes, timeout: int = 5) -> bytes | None:
        return value.encode() if qname.decode().rstrip(".") == name else None

    assert all(dkimpy.verify(signer.sign(m), dnsfunc=dns) for m in data[:20]), "bad signature"

    headers = [h.encode() for h in SIGNED_HEADERS]
    few = data[: max(20, min(count // 50, 200))]  # dkimpy is slow: a sample is enough

    def stock(message: bytes) -> bytes:
        return dkimpy.sign(
            message, b"bench", b"example.com", pem,
            canonicalize=(b"relaxed", b"relaxed"), include_headers=headers,
        )  # fmt: skip

    stock_rate = measure("stock dkimpy", stock, few)
    original = dkimpy.parse_pem_private_key
    dkimpy.parse_pem_private_key = functools.lru_cache(maxsize=4)(original)
    try:
        measure("dkimpy, key parsed once", stock, few)
    finally:
        dkimpy.parse_pem_private_key = original
    ours = measure("postroom.mail.dkim", signer.sign, data)

    digest = b"x" * 600  # about what the signed headers come to
    measure(
        "  of which: the RSA-2048 signature",
        lambda _: signer.key.sign(digest, padding.PKCS1v15(), hashes.SHA256()),
        data,
    )
    import hashlib

    measure(
        "  of which: relaxed body + SHA-256",
        lambda m: hashlib.sha256(relaxed_body(crlf(m).split(b"\r\n\r\n", 1)[1])).digest(),
        data,
    )
    print(f"speed-up over stock dkimpy: {ours / stock_rate:,.0f}x")


if __name__ == "__main__":
    main()
