"""Encryption at rest for endpoint API keys (Fernet: AES-128-CBC with an HMAC-SHA256 tag)."""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class DecryptionError(Exception):
    """The stored value was not encrypted with the current key."""


def _fernet() -> Fernet:
    secret = settings.TAILWATCH_ENCRYPTION_KEY or settings.SECRET_KEY
    # Fernet wants 32 url-safe base64 bytes; derive them so any secret string works, and salt
    # the derivation so the key differs from anything else derived from SECRET_KEY.
    digest = hashlib.sha256(b"tailwatch.api-key:" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("value was encrypted with another key") from exc
