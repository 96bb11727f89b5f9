"""Settings: defaults, TOML file, environment overrides, and refusal naming the key."""

from pathlib import Path

import pytest

from controller import config
from controller.errors import ConfigError


def test_defaults_apply_without_file_or_environment() -> None:
    settings = config.load({})  # no conf/controller.toml relative to an unknown cwd is fine
    assert str(settings.esl_listen) in ("127.0.0.1:8084",)
    assert str(settings.api_listen) == "127.0.0.1:8000"


def test_toml_file_then_environment_override(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('esl_listen = "0.0.0.0:9000"\ndefault_account = "acme"\n')
    settings = config.load({"CONTROLLER_CONFIG": str(path), "CONTROLLER_ESL_LISTEN": "127.0.0.1:9100"})
    assert settings.esl_listen == config.Listen("127.0.0.1", 9100)
    assert settings.default_account == "acme"


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"CONTROLLER_ESL_LISTEN": "nonsense"}, "CONTROLLER_ESL_LISTEN"),
        ({"CONTROLLER_API_LISTEN": "127.0.0.1:99999"}, "CONTROLLER_API_LISTEN"),
        ({"CONTROLLER_REDIS_URL": "http://x"}, "CONTROLLER_REDIS_URL"),
        ({"CONTROLLER_REDIS_URL": "redis://127.0.0.1:abc"}, "CONTROLLER_REDIS_URL"),
        ({"CONTROLLER_REDIS_URL": "redis://127.0.0.1:6379/0?db=x"}, "CONTROLLER_REDIS_URL"),
        ({"CONTROLLER_SMTP_URL": "ftp://x"}, "CONTROLLER_SMTP_URL"),
        ({"CONTROLLER_SMS_URL": "smtp://x"}, "CONTROLLER_SMS_URL"),
        ({"CONTROLLER_MAX_CALLS": "0"}, "CONTROLLER_MAX_CALLS"),
        ({"CONTROLLER_ESL_ALLOW": "10.0.0.300/8"}, "CONTROLLER_ESL_ALLOW"),
        ({"CONTROLLER_CONFIG": "/nonexistent/controller.toml"}, "CONTROLLER_CONFIG"),
    ],
)
def test_bad_value_is_refused_naming_the_key(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(env)
    assert caught.value.key == key
    assert str(caught.value).startswith(key)


def test_an_unknown_controller_variable_is_named_with_the_closest_setting() -> None:
    env = {"CONTROLLER_LOG_LEVL": "DEBUG", "CONTROLLER_ZZZ": "1", "CONTROLLER_CONFIG": "x",
           "CONTROLLER_LOG_LEVEL": "INFO"}
    assert config.unknown_variables(env) == [
        "unknown setting CONTROLLER_LOG_LEVL ignored (did you mean CONTROLLER_LOG_LEVEL?)",
        "unknown setting CONTROLLER_ZZZ ignored",
    ]


def test_unknown_toml_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('esl_lisen = "0.0.0.0:9000"\n')
    with pytest.raises(ConfigError, match="esl_lisen"):
        config.load({"CONTROLLER_CONFIG": str(path)})


def test_redis_urls_of_every_supported_kind_are_accepted() -> None:
    for url in ("redis://h:6379/1", "rediss://:pw@h:6380/0", "unix:///run/redis.sock?db=2"):
        assert config.load({"CONTROLLER_REDIS_URL": url}).redis_url == url


def test_sentinels_are_parsed() -> None:
    settings = config.load({"CONTROLLER_REDIS_SENTINELS": "10.0.0.1:26379, 10.0.0.2:26379"})
    assert settings.redis_sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26379))


def test_carriers_are_compiled_at_load_and_a_bad_pattern_is_refused(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[[carriers]]\ngateway = "a"\npatterns = [\'^\\+1\']\n\n[[carriers]]\ngateway = "b"\n')
    first, second = config.load({"CONTROLLER_CONFIG": str(good)}).carriers
    assert first.takes("+15551234567") and not first.takes("+442071234567")
    assert second.takes("+442071234567")  # no patterns: every number
    bad = tmp_path / "bad.toml"
    bad.write_text('[[carriers]]\ngateway = "a"\npatterns = ["(unclosed"]\n')
    with pytest.raises(ConfigError, match="CONTROLLER_CARRIERS"):
        config.load({"CONTROLLER_CONFIG": str(bad)})
