"""Profiles from `profiles.yaml` and the database, and the default-profile rule.

The file is the owner of its profiles: they are upserted into the `profiles`
table marked `source="file"` (and removed when they leave the file), and the
API cannot change them. The default profile is `DEFAULT_PROFILE` when set,
else the file's `default_profile`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from gl_deep_research.db.database import Database
from gl_deep_research.db.models import Profile
from gl_deep_research.errors import InvalidInput, NotFound, quote_value
from gl_deep_research.profiles.params import (
    PROFILE_NAME_PATTERN,
    InvalidProfile,
    validate_params,
)

logger = logging.getLogger(__name__)

SYNC_ATTEMPTS = 3

# Used when no profiles.yaml exists, so a first run needs no file at all.
BUILTIN_PROFILES: dict[str, Any] = {
    "default_profile": "local",
    "profiles": {
        "local": {
            "provider": "local",
            "description": "Offline research over the bundled Wikipedia summaries.",
            "params": {},
        }
    },
}


@dataclass(frozen=True)
class ProfileSpec:
    name: str
    provider: str
    params: dict[str, Any]
    description: str = ""


@dataclass(frozen=True)
class ProfilesFile:
    profiles: dict[str, ProfileSpec] = field(default_factory=dict)
    default_profile: str | None = None


class InvalidProfilesFile(ValueError):
    """profiles.yaml cannot be used; the message names the file and the entry."""


def parse_profiles(document: Any, origin: str, *, require_engine: bool = True) -> ProfilesFile:
    """Validate a profiles.yaml document as the service does at start-up.

    Raises `InvalidProfilesFile`. The operator passes `require_engine=False`
    because its image does not ship the engines' optional packages.
    """
    if not isinstance(document, dict):
        raise InvalidProfilesFile(f"{origin}: expected a mapping with a 'profiles' key.")
    raw_profiles = document.get("profiles") or {}
    if not isinstance(raw_profiles, dict):
        raise InvalidProfilesFile(f"{origin}: 'profiles' must map names to profiles.")
    profiles = {}
    for name, body in raw_profiles.items():
        if not isinstance(body, dict):
            raise InvalidProfilesFile(f"{origin}: profile {name!r} must be a mapping.")
        try:
            params = validate_params(
                str(body.get("provider", "")), body.get("params"), require_engine=require_engine
            )
        except InvalidProfile as err:
            raise InvalidProfilesFile(
                f"{origin}: profile {name!r} has an invalid {err.field}: {err.message}"
            ) from err
        profiles[str(name)] = ProfileSpec(
            name=str(name),
            provider=str(body["provider"]),
            params=params,
            description=str(body.get("description") or ""),
        )
    default = document.get("default_profile")
    if default is not None and str(default) not in profiles:
        raise InvalidProfilesFile(
            f"{origin}: default_profile {default!r} is not one of the profiles "
            f"({', '.join(sorted(profiles)) or 'none'})."
        )
    return ProfilesFile(profiles=profiles, default_profile=str(default) if default else None)


def read_profiles_file(path: Path) -> ProfilesFile:
    if not path.exists():
        logger.warning(
            "No profiles file at %s (PROFILES_CONFIG_PATH); using the built-in 'local' profile",
            path,
        )
        return parse_profiles(BUILTIN_PROFILES, "built-in profiles")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise InvalidProfilesFile(f"{path}: invalid YAML: {err}") from err
    return parse_profiles(document, str(path))


class ProfileCatalog:
    """Looks up profiles in the database and applies the default-profile rule."""

    def __init__(self, database: Database, default_override: str | None) -> None:
        self._database = database
        self._default_override = default_override
        self._file_default: str | None = None

    @property
    def default_profile(self) -> str | None:
        return self._default_override or self._file_default

    def sync_file(self, profiles_file: ProfilesFile) -> None:
        """Upsert the file's profiles and drop file profiles that left the file."""
        for attempt in range(1, SYNC_ATTEMPTS + 1):
            try:
                self._write_file_profiles(profiles_file)
                break
            except IntegrityError:
                # Replicas starting together sync the same file; one of them
                # inserted a row this one did not see yet. The retry updates it.
                if attempt == SYNC_ATTEMPTS:
                    raise
                logger.info(
                    "Another process synced profiles at the same time; retrying, attempt %d of %d",
                    attempt + 1,
                    SYNC_ATTEMPTS,
                )
        self._file_default = profiles_file.default_profile
        logger.info(
            "Loaded %d file profiles; default profile is %r",
            len(profiles_file.profiles),
            self.default_profile,
        )

    def _write_file_profiles(self, profiles_file: ProfilesFile) -> None:
        with self._database.session() as session:
            for spec in profiles_file.profiles.values():
                row = session.get(Profile, spec.name)
                if row is None:
                    row = Profile(name=spec.name)
                    session.add(row)
                row.provider = spec.provider
                row.params = spec.params
                row.description = spec.description
                row.source = "file"
            session.execute(
                delete(Profile).where(
                    Profile.source == "file", Profile.name.not_in(list(profiles_file.profiles))
                )
            )

    def resolve(self, name: str | None) -> Profile:
        """Return the named profile, or the default one when `name` is empty."""
        # A JSON body can carry any type in the `profile` field.
        if name is not None and not isinstance(name, str):
            raise InvalidInput(
                f"Field 'profile' must be a string, got {type(name).__name__}.", field="profile"
            )
        wanted = name or self.default_profile
        if not wanted:
            raise NotFound(
                "No profile was given and no default profile is configured; set "
                "default_profile in profiles.yaml or DEFAULT_PROFILE.",
                field="profile",
            )
        if not re.match(PROFILE_NAME_PATTERN, wanted):
            raise NotFound(f"Profile {quote_value(wanted)} not found.", field="profile")
        row = self._database.read_objects(lambda session: session.get(Profile, wanted))
        if row is None:
            raise NotFound(f"Profile {quote_value(wanted)} not found.", field="profile")
        return row

    def list(self) -> list[Profile]:
        with self._database.session() as session:
            return list(session.scalars(select(Profile).order_by(Profile.name)))
