#!/usr/bin/env python3
"""Validate StatusPulse Auth's OpenAPI document as OpenAPI 3.1.

    python validate_openapi.py <openapi.json>

Needs openapi-spec-validator==0.9.0 (pip install openapi-spec-validator==0.9.0).
Exits 0 when the document is valid OpenAPI 3.1, 1 (listing every error) when it
is not, 2 on a usage error or a file that is not JSON.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from openapi_spec_validator import OpenAPIV31SpecValidator


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write(__doc__ or "")
        return 2
    path = argv[1]
    try:
        with open(path, encoding="utf-8") as f:
            doc: Any = json.load(f)
    except (OSError, ValueError) as exc:
        print(f"{path}: cannot read the document: {exc}", file=sys.stderr)
        return 2
    if not isinstance(doc, dict):
        print(f"{path}: the document is not a JSON object", file=sys.stderr)
        return 1
    version = doc.get("openapi")
    if not (isinstance(version, str) and version.startswith("3.1.")):
        print(f"{path}: `openapi` is {version!r}, not 3.1.x", file=sys.stderr)
        return 1

    errors = list(OpenAPIV31SpecValidator(doc).iter_errors())
    if errors:
        print(f"{path}: {len(errors)} OpenAPI 3.1 error(s):", file=sys.stderr)
        for err in errors:
            where = "/".join(str(p) for p in err.absolute_path) or "(root)"
            print(f"  at {where}: {err.message}", file=sys.stderr)
        return 1
    paths = doc.get("paths") or {}
    ops = sum(
        1
        for item in paths.values()
        for method in item
        if method in ("get", "put", "post", "delete", "options", "head", "patch", "trace")
    )
    print(f"{path}: valid OpenAPI {version} ({len(paths)} paths, {ops} operations)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
