"""Writes to API-managed profiles: create, replace, patch and delete.

Profiles from `profiles.yaml` (`source="file"`) belong to the file, so every
write to them is a conflict; the default profile cannot be deleted. `params`
go through `validate_params`, so an invalid key is rejected with its name.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import IntegrityError

from gl_deep_research.db.database import Database
from gl_deep_research.db.models import Profile, utcnow
from gl_deep_research.errors import Conflict, InvalidInput, NotFound, quote_value
from gl_deep_research.profiles.params import PROFILE_NAME_PATTERN, InvalidProfile, validate_params
from gl_deep_research.profiles.registry import ProfileCatalog

logger = logging.getLogger(__name__)

MAX_DESCRIPTION_LENGTH = 2000
WRITABLE_FIELDS = ("name", "provider", "params", "description")


def _check_fields(body: Mapping[str, Any]) -> None:
    unknown = sorted(set(body) - set(WRITABLE_FIELDS))
    if unknown:
        raise InvalidInput(
            f"Unknown profile field {quote_value(unknown[0])}; "
            f"allowed fields: {', '.join(WRITABLE_FIELDS)}.",
            field=unknown[0],
        )


def _validated(
    provider: object, params: object, description: object
) -> tuple[str, dict[str, Any], str]:
    if not isinstance(provider, str) or not provider:
        raise InvalidInput("Field 'provider' is required and must be a string.", field="provider")
    if params is not None and not isinstance(params, Mapping):
        raise InvalidInput(
            f"Field 'params' must be an object, got {type(params).__name__}.", field="params"
        )
    try:
        checked = validate_params(provider, params)
    except InvalidProfile as err:
        raise InvalidInput(err.message, field=err.field) from err
    if description is None:
        description = ""
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_LENGTH:
        raise InvalidInput(
            f"Field 'description' must be a string of at most {MAX_DESCRIPTION_LENGTH} characters.",
            field="description",
        )
    return provider, checked, description


def _read_only(name: str) -> Conflict:
    return Conflict(
        f"Profile {quote_value(name)} comes from profiles.yaml and is read-only through the API; "
        "change the file (or its ResearchProfile resource) instead.",
        field="name",
    )


def _check_known_name(name: str) -> None:
    # A name that no profile can have is "not found", and never reaches the database.
    if not re.match(PROFILE_NAME_PATTERN, name):
        raise NotFound(f"Profile {quote_value(name)} not found.", field="name")


def validate_name(name: object) -> str:
    if not isinstance(name, str) or not re.match(PROFILE_NAME_PATTERN, name):
        raise InvalidInput(
            f"Field 'name' must be 1 to 63 letters, digits, '.', '_' or '-', starting with a "
            f"letter or digit; got {quote_value(name)}.",
            field="name",
        )
    return name


class ProfileEditor:
    def __init__(self, database: Database, catalog: ProfileCatalog) -> None:
        self._database = database
        self._catalog = catalog

    def create(self, body: Mapping[str, Any]) -> Profile:
        _check_fields(body)
        name = validate_name(body.get("name"))
        provider, params, description = _validated(
            body.get("provider"), body.get("params"), body.get("description")
        )
        now = utcnow()
        row = Profile(
            name=name,
            provider=provider,
            params=params,
            description=description,
            source="api",
            created_at=now,
            updated_at=now,
        )
        try:
            with self._database.session() as session:
                session.add(row)
        except IntegrityError:
            raise Conflict(
                f"A profile named {quote_value(name)} already exists.", field="name"
            ) from None
        logger.info("Created profile %s (provider %s)", name, provider)
        return row

    def replace(self, name: str, body: Mapping[str, Any]) -> Profile:
        """Replace every field of an API profile (PUT); absent fields take their defaults."""
        _check_fields(body)
        self._check_same_name(name, body)
        provider, params, description = _validated(
            body.get("provider"), body.get("params"), body.get("description")
        )
        return self._write(name, provider, params, description)

    def patch(self, name: str, body: Mapping[str, Any]) -> Profile:
        """Change the given fields of an API profile (PATCH); `params` is replaced whole."""
        _check_fields(body)
        self._check_same_name(name, body)
        current = self._writable(name)
        provider, params, description = _validated(
            body.get("provider", current.provider),
            body.get("params", current.params),
            body.get("description", current.description),
        )
        return self._write(name, provider, params, description)

    def delete(self, name: str) -> Profile:
        current = self._writable(name)
        if name == self._catalog.default_profile:
            raise Conflict(
                f"Profile {quote_value(name)} is the default profile and cannot be deleted; set "
                "DEFAULT_PROFILE or default_profile in profiles.yaml to another profile first.",
                field="name",
            )
        with self._database.session() as session:
            row = session.get(Profile, name)
            if row is not None:
                session.delete(row)
        logger.info("Deleted profile %s", name)
        return current

    def _check_same_name(self, name: str, body: Mapping[str, Any]) -> None:
        if "name" in body and body["name"] != name:
            raise InvalidInput(
                f"Field 'name' is {quote_value(body['name'])} but the path names profile "
                f"{quote_value(name)}; "
                "profiles cannot be renamed, so create a new one instead.",
                field="name",
            )

    def _writable(self, name: str) -> Profile:
        _check_known_name(name)
        with self._database.session() as session:
            row = session.get(Profile, name)
        if row is None:
            raise NotFound(f"Profile {quote_value(name)} not found.", field="name")
        if row.source == "file":
            raise _read_only(name)
        return row

    def _write(self, name: str, provider: str, params: dict[str, Any], description: str) -> Profile:
        _check_known_name(name)
        with self._database.session() as session:
            row = session.get(Profile, name)
            if row is None:
                raise NotFound(f"Profile {quote_value(name)} not found.", field="name")
            if row.source == "file":
                raise _read_only(name)
            row.provider = provider
            row.params = params
            row.description = description
            row.updated_at = utcnow()
        logger.info("Updated profile %s (provider %s)", name, provider)
        return row
