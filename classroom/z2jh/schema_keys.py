"""Extract from the Zero to JupyterHub chart's values.schema.yaml the key names that values.yaml uses.

    python classroom/z2jh/schema_keys.py PATH/TO/jupyterhub/values.schema.yaml CHART_COMMIT

writes classroom/z2jh/schema_keys.json: for each mapping that values.yaml reaches, the names the
schema allows there (or that it allows any name), and for each value the JSON types it allows. Only
names and types: nothing else of the chart is kept. tests/test_z2jh_values.py checks values.yaml
against it; rerun this when values.yaml gains a key or the chart moves on.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent


def extract(schema: dict, values: object, path: str = "", out: dict | None = None) -> dict:
    out = {} if out is None else out
    types = schema.get("type")
    entry = {"types": [types] if isinstance(types, str) else (types or [])}
    if isinstance(values, dict) and ("properties" in schema or "additionalProperties" in schema
                                     or "patternProperties" in schema):
        props = schema.get("properties", {})
        free = schema.get("additionalProperties", True) is not False or "patternProperties" in schema
        entry["keys"] = sorted(props)
        entry["any_key"] = free
        for key, value in values.items():
            if key in props:
                extract(props[key], value, f"{path}.{key}" if path else key, out)
    out[path or "."] = entry
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    schema = yaml.safe_load(Path(argv[0]).read_text())
    values = yaml.safe_load((HERE / "values.yaml").read_text())
    keys = {"chart": "jupyterhub/zero-to-jupyterhub-k8s", "commit": argv[1], "nodes": extract(schema, values)}
    (HERE / "schema_keys.json").write_text(json.dumps(keys, indent=1, sort_keys=True) + "\n")
    print(f"wrote {HERE / 'schema_keys.json'} ({len(keys['nodes'])} nodes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
