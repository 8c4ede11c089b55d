"""Helpers for import tests: a list to import into, and a one-call synchronous import."""

from pathlib import Path

import pytest

from postroom.audience.models import MailingList
from postroom.imports import services
from postroom.imports.models import Import


@pytest.fixture
def news(db) -> MailingList:
    return MailingList.objects.create(name="News")


def run(path: Path, lists=("News",), **options) -> Import:
    """Prepare, queue, claim and run an import in this process, as the worker would."""
    imp = services.prepare(Path(path), lists=list(lists), **options)
    services.start(imp)
    claimed = services.claim(imp.pk)
    assert claimed is not None
    return services.execute(claimed)


def write(tmp_path: Path, text: str, name: str = "contacts.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path
