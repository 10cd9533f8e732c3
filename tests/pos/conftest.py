"""Signed-in web clients on Alice's tenant host, and the inventory fixtures of the register."""

import secrets

import pytest
from django.test import Client

from tests.conftest import PASSWORD
from tests.inventory.conftest import bobs_product, coffee, tea  # noqa: F401 - fixtures

HOST = "alice-chain.localhost"


def web_client(host: str = HOST, **extra) -> Client:
    # An address of its own: other tests' failed sign-ins from 127.0.0.1 count against the IP.
    address = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"
    return Client(HTTP_HOST=host, REMOTE_ADDR=address, **extra)


def signed_in(user, host: str = HOST, **extra) -> Client:
    client = web_client(host, **extra)
    response = client.post("/login/", {"username": user.username, "password": PASSWORD}, secure=True)
    assert response.status_code == 302, response.content[:500]
    return client


@pytest.fixture
def web():
    """`web(user)`: a browser-like client signed in on Alice's host; `web()`: anonymous."""
    return lambda user=None, **extra: signed_in(user, **extra) if user is not None else web_client(**extra)
