"""Configuration: defaults, the TOML file, and clear errors for bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from server import settings


def _load(tmp_path: Path, text: str) -> settings.Settings:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return settings.load(path)


def test_defaults_serve_the_sample_workspace() -> None:
    """With no file, the embedded workspace uses Tencent's sample SDKAppID and key."""
    (app,) = settings.load().all_apps()
    assert (app.sdkappid, app.secret_key, app.admin, app.flagship) == (
        1400000000,
        "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e",
        "administrator",
        True,
    )
    assert app.normalized_group_types() == ["Work", "Public", "Meeting"]
    assert app.receipt_group_cap == 200


def test_command_line_values_win_over_the_file(tmp_path: Path) -> None:
    """A [server] value given on the command line replaces the file's."""
    path = tmp_path / "config.toml"
    path.write_text('[server]\nport = 9000\ndb = "x.sqlite3"\n')
    loaded = settings.load(path, port=9100, db=None)
    assert (loaded.server.port, loaded.server.db) == (9100, "x.sqlite3")


def test_configured_apps_join_the_default_one(tmp_path: Path) -> None:
    """An [[apps]] entry is served beside the default workspace, and can replace it."""
    loaded = _load(tmp_path, '[[apps]]\nsdkappid = 1400000009\nsecret_key = "k"\n')
    assert [a.sdkappid for a in loaded.all_apps()] == [1400000000, 1400000009]
    loaded = _load(
        tmp_path, 'default_app = false\n[[apps]]\nsdkappid = 1400000009\nsecret_key = "k"\n'
    )
    assert [a.sdkappid for a in loaded.all_apps()] == [1400000009]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server]\nprot = 1\n", "prot"),
        ("[server]\nport = 70000\n", "port"),
        ("[[apps]]\nsdkappid = 1\n", "secret_key"),
        ('[[apps]]\nsdkappid = 7\nsecret_key = "k"\nreceipt_group_types = ["Wrok"]\n', "Wrok"),
        (
            '[[apps]]\nsdkappid = 7\nsecret_key = "k"\n[apps.callback]\nurl = "http://x"\n'
            'commands = ["Group.CallbackAfterSendMessage"]\n',
            "Group.CallbackAfterSendMessage",
        ),
        (
            '[[apps]]\nsdkappid = 7\nsecret_key = "k"\n[[apps]]\nsdkappid = 7\nsecret_key = "k"\n',
            "twice",
        ),
        ("default_app = false\n", "no app"),
        ("[server\n", "TOML"),
    ],
)
def test_a_bad_file_names_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    """A config error says which key or value is wrong."""
    with pytest.raises(settings.ConfigError, match=message):
        _load(tmp_path, text)


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    """A config path that does not exist is a ConfigError naming the path."""
    with pytest.raises(settings.ConfigError, match="cannot read config file"):
        settings.load(tmp_path / "nope.toml")
