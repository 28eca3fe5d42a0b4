"""The deployable stack, checked statically (no Docker engine runs here): docker-compose.yaml against
the Compose specification's JSON schema, the services' shape, mounts, secrets, and the Dockerfile's
base image against the pinned Airflow version."""

from __future__ import annotations

import copy
import importlib.resources
import json
import re

import jsonschema
import pytest
import yaml

from tests.conftest import PROJECT_ROOT

COMPOSE = PROJECT_ROOT / "docker-compose.yaml"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
AIRFLOW_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-init"}
SECRET_WORDS = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|PRIVATE_KEY|CONN_", re.IGNORECASE)


def compose_schema() -> dict:
    # The Compose specification's schema as check-jsonschema vendors it (pinned in requirements.txt).
    files = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads(files.joinpath("compose-spec.json").read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())  # resolves the <<: merge keys as Compose does


def _errors(document: dict) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_file_validates_against_the_compose_spec_schema(compose: dict) -> None:
    assert _errors(compose) == []


def test_the_schema_check_catches_a_broken_file(compose: dict) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["airflow-scheduler"]["comand"] = "scheduler"  # typo of a key
    broken["services"]["postgres"]["healthcheck"] = "pg_isready"  # a string where an object belongs
    errors = _errors(broken)
    assert any("comand" in e for e in errors), errors
    assert any(e.startswith("services/postgres/healthcheck") for e in errors), errors


def test_the_official_airflow_3_shape(compose: dict) -> None:
    services = compose["services"]
    assert {"postgres", *AIRFLOW_SERVICES} <= set(services)
    common = compose["x-airflow-common"]["environment"]
    assert common["AIRFLOW__CORE__EXECUTOR"] == "${AIRFLOW_EXECUTOR:-LocalExecutor}"
    assert common["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert common["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://airflow-apiserver:8080/")
    # CeleryExecutor + redis is an opt-in profile, not part of the default stack.
    for name in ("redis", "airflow-worker"):
        assert services[name]["profiles"] == ["celery"]
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    assert "airflow pools set duckdb 1" in "\n".join(services["airflow-init"]["command"])


@pytest.mark.parametrize("service", sorted(yaml.safe_load(COMPOSE.read_text())["services"]))
def test_every_service_has_image_command_and_healthcheck(compose: dict, service: str) -> None:
    spec = compose["services"][service]
    assert spec.get("image") or spec.get("build"), service
    assert spec.get("command"), service
    check = spec.get("healthcheck") or {}
    assert check.get("test") and not check.get("disable"), service


def test_bind_mounts_point_at_existing_paths_and_named_volumes_are_declared(compose: dict) -> None:
    declared = set(compose.get("volumes") or {})
    seen_binds = []
    for name, spec in compose["services"].items():
        for volume in spec.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume["source"]
            if source.startswith((".", "/")):
                seen_binds.append(source)
                assert (PROJECT_ROOT / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
    assert {"./dags", "./include", "./plugins"} <= set(seen_binds)


def _env_values(compose: dict) -> list[tuple[str, str, str]]:
    out = [("x-airflow-common", k, str(v)) for k, v in compose["x-airflow-common"]["environment"].items()]
    for name, spec in compose["services"].items():
        env = spec.get("environment") or {}
        out += [(name, k, str(v)) for k, v in env.items()]
    return out


def test_no_secret_is_written_in_the_compose_file(compose: dict) -> None:
    for where, key, value in _env_values(compose):
        if SECRET_WORDS.search(key) and not key.endswith("_FILE"):  # a path to a secret is no secret
            assert value.startswith("${") or "${" in value, f"{where}: {key} holds a literal value"
        # A connection URI may carry a password only as an interpolation.
        bare = re.sub(r"\$\{[^}]*\}", "VAR", value)
        for password in re.findall(r"://[^:/@]*:([^@]*)@", bare):
            assert password == "VAR", f"{where}: {key} embeds a password"


def test_every_variable_the_compose_file_needs_is_in_env_example() -> None:
    example = (PROJECT_ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    # $${NAME} is an escaped dollar: the container's shell expands it, not Compose.
    used = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text()))
    assert used - documented == set()
    # Required ones (${VAR:?...}) must be there uncommented, to be filled in.
    required = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*):\?", COMPOSE.read_text()))
    assert required <= set(re.findall(r"^([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    assert ".env" in (PROJECT_ROOT / ".gitignore").read_text().split()


def _pinned(package: str) -> str:
    text = (PROJECT_ROOT / "requirements.txt").read_text()
    match = re.search(rf"^{re.escape(package)}==([^\s#]+)", text, re.MULTILINE | re.IGNORECASE)
    assert match, f"{package} is not pinned in requirements.txt"
    return match.group(1)


def test_dockerfile_base_image_matches_the_pinned_airflow() -> None:
    text = DOCKERFILE.read_text()
    bases = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)
    assert len(bases) == 1, bases
    image, tag = bases[0].split(":", 1)
    assert image == "apache/airflow"
    assert tag == f"{_pinned('apache-airflow')}-python3.11"


def test_dockerfile_installs_requirements_and_parses_dbt_at_build_time() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^RUN pip install .*-r \S*requirements\.txt", text, re.MULTILINE)
    assert re.search(r"^RUN .*dbt parse", text, re.MULTILINE)
    for source in re.findall(r"^COPY\s+(?:--\S+\s+)*(\S+)\s", text, re.MULTILINE):
        assert (PROJECT_ROOT / source).exists(), source


def _requirement_names(name: str) -> set[str]:
    lines = (PROJECT_ROOT / name).read_text().splitlines()
    return {re.split(r"[=<>\[ ]", line, maxsplit=1)[0].lower() for line in lines if line and line[0].isalpha()}


def test_the_image_installs_only_what_it_runs() -> None:
    """Test, lint and benchmark tools live in requirements-dev.txt, which the Dockerfile never names."""
    text = DOCKERFILE.read_text()
    assert "requirements-dev" not in text
    runtime, dev = _requirement_names("requirements.txt"), _requirement_names("requirements-dev.txt")
    assert {"pytest", "ruff", "fakesnow", "matplotlib", "aiosmtpd", "hypothesis"} <= dev
    assert not runtime & dev, f"listed twice: {runtime & dev}"
    assert not runtime & {"pytest", "ruff", "fakesnow", "matplotlib", "aiosmtpd", "hypothesis", "scipy", "networkx"}
    assert "-r requirements.txt" in (PROJECT_ROOT / "requirements-dev.txt").read_text().splitlines()
