"""classroom/z2jh/values.yaml uses only key names (and value types) that the Zero to JupyterHub chart accepts.

The chart's values.schema.yaml forbids unknown keys almost everywhere (additionalProperties: false),
so a misspelt key makes `helm install` fail. classroom/z2jh/schema_keys.json holds the names and
types the schema allows at each place values.yaml reaches (extracted by classroom/z2jh/schema_keys.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

Z2JH = Path(__file__).resolve().parent.parent / "classroom" / "z2jh"
JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number",
              type(None): "null"}


def problems(values: object, nodes: dict, path: str = "") -> list[str]:
    """Every key of `values` the schema would reject, and every value of a type it does not allow."""
    node = nodes.get(path or ".")
    if node is None:
        return []  # inside a free-form mapping (e.g. hub.config.GitHubOAuthenticator): no schema to check
    found = []
    kind = JSON_TYPES[type(values)]
    allowed = set(node["types"])
    if allowed and not (kind in allowed or (kind == "integer" and "number" in allowed)):
        found.append(f"{path}: a {kind}, the schema allows {sorted(allowed)}")
    if isinstance(values, dict) and "keys" in node:
        for key, value in values.items():
            child = f"{path}.{key}" if path else key
            if key not in node["keys"] and not node["any_key"]:
                found.append(f"{child}: not a key the chart knows (expected one of {node['keys']})")
            else:
                found += problems(value, nodes, child)
    return found


@pytest.fixture(scope="module")
def nodes() -> dict:
    return json.loads((Z2JH / "schema_keys.json").read_text())["nodes"]


def test_values_use_only_keys_the_chart_knows(nodes):
    values = yaml.safe_load((Z2JH / "values.yaml").read_text())
    assert not problems(values, nodes), "\n".join(problems(values, nodes))


def test_every_checked_key_is_in_the_extract(nodes):
    """The extract covers what values.yaml uses (rerun schema_keys.py after adding a key)."""
    values = yaml.safe_load((Z2JH / "values.yaml").read_text())
    for section in ("hub", "singleuser", "cull"):
        assert section in values and section in nodes, section
    for key in values["singleuser"]:
        assert f"singleuser.{key}" in nodes, f"singleuser.{key} is not in schema_keys.json: rerun schema_keys.py"


def test_the_check_catches_a_misspelt_key_and_a_wrong_type(nodes):
    values = yaml.safe_load((Z2JH / "values.yaml").read_text())
    values["singleuser"]["memmory"] = {"limit": "2G"}
    values["singleuser"]["cpu"]["limit"] = "one"
    found = problems(values, nodes)
    assert any("singleuser.memmory" in p for p in found), found
    assert any("singleuser.cpu.limit" in p for p in found), found


def test_exchange_volume_is_mounted_where_nbgrader_looks(nodes):
    values = yaml.safe_load((Z2JH / "values.yaml").read_text())
    storage = values["singleuser"]["storage"]
    (volume,) = storage["extraVolumes"]
    (mount,) = storage["extraVolumeMounts"]
    assert mount["name"] == volume["name"]
    pvc = yaml.safe_load((Z2JH / "exchange-pvc.yaml").read_text())
    assert volume["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"], "every user pod mounts the exchange: it must be RWX"
    config = values["singleuser"]["extraFiles"]["nbgrader-config"]["stringData"]
    assert f'c.Exchange.root = "{mount["mountPath"]}"' in config
