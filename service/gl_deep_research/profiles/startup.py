"""Start-up checks of `PROFILES_CONFIG_PATH` and `DEFAULT_PROFILE`.

They run once, before the API serves. Later changes to the file or to API
profiles never stop a running server: the watcher keeps the previous
profiles when the file turns invalid.
"""

from __future__ import annotations

from sqlalchemy import select

from gl_deep_research.db.database import Database
from gl_deep_research.db.models import Profile
from gl_deep_research.profiles.registry import (
    BUILTIN_PROFILES,
    InvalidProfilesFile,
    parse_profiles,
    read_profiles_file,
)
from gl_deep_research.settings import ConfigurationError, Settings


def check_profile_settings(settings: Settings, database: Database) -> None:
    """Raise `ConfigurationError` when the profiles file or the default profile is unusable.

    Reads the file and the API profiles in the database but writes nothing.
    """
    path = settings.profiles_config_path
    if path.exists():
        try:
            profiles_file = read_profiles_file(path)
        except InvalidProfilesFile as err:
            raise ConfigurationError(f"PROFILES_CONFIG_PATH='{path}': {err}") from None
    elif "profiles_config_path" in settings.model_fields_set:
        raise ConfigurationError(
            f"PROFILES_CONFIG_PATH='{path}': file not found; point it at an existing "
            "profiles.yaml, or unset it to use ./profiles.yaml or the built-in 'local' profile."
        )
    else:
        # The default path may be missing; `read_profiles_file` warns when it loads them.
        profiles_file = parse_profiles(BUILTIN_PROFILES, "built-in profiles")
    default_name = settings.default_profile
    if not default_name:
        return
    with database.session() as session:
        api_profiles = session.scalars(select(Profile.name).where(Profile.source != "file"))
        known = set(profiles_file.profiles) | set(api_profiles)
    if default_name not in known:
        raise ConfigurationError(
            f"DEFAULT_PROFILE='{default_name}': no such profile; expected one of "
            f"{', '.join(sorted(known)) or 'none'}, or unset it to use the file's "
            "default_profile."
        )
