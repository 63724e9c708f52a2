"""The Lambda artifacts as they deploy: `make build` (sam build, no container), then each handler the built
template names is imported by python3.12 from its built function folder and the built layer alone.

The build is its own make step, before pytest: `make unit` (and so `make test`) builds, then names the build
folder in NSCLIENT_BUILD_DIR. Without it (pytest run by hand) the test is skipped, saying what to run.

python3.12 runs with -I -S: no site-packages, no PYTHONPATH, so only the standard library and what we ship
can be imported. Nothing on this machine can stand in for a package the layer forgot, and the layer must
bring its own boto3 (a runtime's bundled botocore may be too old for S3 conditional writes)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from nsclient.local.template import load_template, resources_of_type

ROOT = Path(__file__).resolve().parents[2]

# Run in the built artifacts' interpreter: argv = function dir, layer python dir, handler ("module.function").
IMPORT_HANDLER = """
import importlib, json, sys
function_dir, layer_dir, handler = sys.argv[1:4]
sys.path[:0] = [function_dir, layer_dir]
module_name, _, attribute = handler.rpartition(".")
entry = getattr(importlib.import_module(module_name), attribute)
import botocore.session
put_object = botocore.session.get_session().get_service_model("s3").operation_model("PutObject")
print(json.dumps({
    "callable": callable(entry),
    "botocore": botocore.__file__,
    "put_object_if_none_match": "IfNoneMatch" in put_object.input_shape.members,
    "outside": sorted({m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", None)
                       and not m.__file__.startswith((function_dir, layer_dir, sys.base_prefix))}),
}))
"""


def python312() -> str:
    found = subprocess.run([ROOT / "tools" / "find-python312"], capture_output=True, text=True, check=False)
    assert found.returncode == 0, found.stderr
    return str(Path(found.stdout.strip()) / "python3.12")


BUILD_DIR_VARIABLE = "NSCLIENT_BUILD_DIR"


@pytest.fixture(scope="module")
def build_dir() -> Path:
    named = os.environ.get(BUILD_DIR_VARIABLE)
    if not named:
        pytest.skip(f"needs `make build` first: `make unit` builds and sets {BUILD_DIR_VARIABLE}")
    built = Path(named)
    # Named but not built is a broken make step, not a reason to skip
    assert (built / "template.yaml").is_file(), f"{BUILD_DIR_VARIABLE}={named} holds no built template.yaml"
    return built


def built_functions(build_dir: Path) -> dict[str, tuple[Path, str]]:
    template = load_template(build_dir / "template.yaml")
    return {
        name: (build_dir / resource["Properties"]["CodeUri"], resource["Properties"]["Handler"])
        for name, resource in resources_of_type(template, "AWS::Serverless::Function").items()
    }


def built_layer(build_dir: Path) -> Path:
    template = load_template(build_dir / "template.yaml")
    (layer,) = resources_of_type(template, "AWS::Serverless::LayerVersion").values()
    return build_dir / layer["Properties"]["ContentUri"] / "python"


@pytest.mark.slow
def test_every_handler_imports_from_the_built_function_and_layer_alone(build_dir: Path) -> None:
    functions = built_functions(build_dir)
    layer = built_layer(build_dir)
    source_functions = sorted(path.parent.name for path in (ROOT / "functions").glob("*/app.py"))
    # Only what the Lambda runtime sets; the handlers read their settings when invoked.
    env = {"PATH": os.environ["PATH"], "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}

    results = {}
    for name, (function_dir, handler) in functions.items():
        done = subprocess.run(
            [python312(), "-I", "-S", "-c", IMPORT_HANDLER, str(function_dir), str(layer), handler],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"{name} ({handler}) does not import from its artifacts:\n{done.stderr}"
        results[name] = json.loads(done.stdout)

    assert len(functions) == len(source_functions), (sorted(functions), source_functions)
    for name, result in results.items():
        assert result["callable"], name
        assert result["botocore"].startswith(str(layer)), f"{name} imports botocore from {result['botocore']}"
        assert result["put_object_if_none_match"], f"{name}: the layer's botocore lacks PutObject IfNoneMatch"
        assert result["outside"] == [], f"{name} imports modules from outside its artifacts: {result['outside']}"
