import pytest

from postroom.testing.smtpserver import CaptureServer


@pytest.fixture
def smtp():
    with CaptureServer() as server:
        yield server
