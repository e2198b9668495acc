"""Admin keys and the ``Authorization`` header.

The admin key is ``<instance name>|<hex>``, where the hex part is an HMAC of
the instance name under the instance secret: the same secret always gives the
same key, and nobody can make one without the secret. The secret is kept in
the data folder (``instance_secret``) unless ``INSTANCE_SECRET`` gives it.

Header forms, as the reference backend reads them:

* ``Convex <key>``: admin. A cosmetic ``prod:``/``dev:`` prefix before the
  name is allowed. ``Convex <key>:<base64 JSON>`` is an admin acting as a user.
* ``Bearer <jwt>``: a user token (auth providers come in a later release).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

import orjson

from ..errors import BadAdminKey, BadRequest, RequestError
from .executor import ANONYMOUS, Identity

SECRET_FILE = "instance_secret"


def load_instance_secret(data_dir: Path, given: str | None) -> str:
    """The instance secret: ``given`` if set, else the data folder's, created on first use."""
    if given:
        return given
    path = Path(data_dir) / SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(secret + "\n")
    return secret


def admin_key(instance_name: str, instance_secret: str) -> str:
    digest = hmac.new(instance_secret.encode(), b"convexpy-admin-key:" + instance_name.encode(), hashlib.sha256).hexdigest()
    return f"{instance_name}|01{digest}"


class AdminKeys:
    def __init__(self, instance_name: str, instance_secret: str):
        self.instance_name = instance_name
        self.key = admin_key(instance_name, instance_secret)

    def _split(self, presented: str) -> tuple[str, str | None]:
        """Strip a cosmetic ``type:`` prefix and split off an acting-as identity."""
        name, bar, rest = presented.partition("|")
        if not bar:
            raise BadAdminKey("The provided admin key was invalid for this instance")
        name = name.rsplit(":", 1)[-1]
        secret_part, colon, identity = rest.partition(":")
        return f"{name}|{secret_part}", (identity if colon else None)

    def check(self, presented: str) -> Identity:
        key, acting_as = self._split(presented.strip())
        if not hmac.compare_digest(key.encode(), self.key.encode()):
            raise BadAdminKey("The provided admin key was invalid for this instance")
        if acting_as is None:
            return Identity(admin=True)
        return Identity(admin=True, user=_decode_acting_as(acting_as))

    def identity_from_header(self, header: str | None, admin_key_param: str | None = None) -> Identity:
        """The caller's identity from ``Authorization`` (or ``?adminKey=``)."""
        if header is None:
            return self.check(admin_key_param) if admin_key_param else ANONYMOUS
        if len(header) < 7:
            raise BadRequest("Invalid authentication header", code="InvalidHeaderFailure")
        scheme = header[:7].lower()
        if scheme == "bearer ":
            raise RequestError(
                "No auth provider found matching the given token. Check that your JWT's issuer and audience match "
                "one of your configured providers: []",
                code="NoAuthProvider",
                status=401,
            )
        if scheme == "convex ":
            return self.check(header[7:])
        raise BadRequest("Invalid admin key", code="InvalidAdminKey")


def user_identity(attributes: object, error: str = "Malformed Authorization header.") -> dict:
    """A user identity from acting-as attributes: ``tokenIdentifier``, or ``issuer`` and ``subject``."""
    if not isinstance(attributes, dict):
        raise BadRequest(error, code="HeaderParseFailure")
    attributes = dict(attributes)
    if "tokenIdentifier" not in attributes:
        if "issuer" not in attributes or "subject" not in attributes:
            raise BadRequest(error, code="HeaderParseFailure")
        attributes["tokenIdentifier"] = f"{attributes['issuer']}|{attributes['subject']}"
    return attributes


def _decode_acting_as(encoded: str) -> dict:
    try:
        attributes = orjson.loads(base64.b64decode(encoded, validate=True))
    except ValueError:
        raise BadRequest("Malformed Authorization header.", code="HeaderParseFailure") from None
    return user_identity(attributes)
