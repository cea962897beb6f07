"""Which spaCy model reads an article, and the entities it finds there.

``NEWSFLOW_NER_MODELS`` maps a language to the spaCy model that reads it
(``extract_entities_with_models``).  Articles are grouped by language; each
model is loaded once per process with only its ``ner`` component; an article
of a language without a model gets the status "no model for <lang>" and no
entities: it is never read with another language's model.  Each result
carries the version of the model that made it.  What the model finds goes
through ``pipeline.enrich.normalise`` before anyone sees it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from pipeline.enrich.casing import true_cased_dateline, true_cased_title
from pipeline.enrich.normalise import EntityMention, normalise_doc


@dataclass(frozen=True)
class EnrichInput:
    title: str | None
    text: str
    language: str | None = None


@dataclass(frozen=True)
class EnrichResult:
    entities: list[EntityMention]
    status: str  # "done", "truncated", "no model for <lang>"


class ModelUnavailable(RuntimeError):
    """A model named in NEWSFLOW_NER_MODELS that spaCy cannot load."""


@lru_cache(maxsize=None)
def load_nlp(model_name: str):
    """The spaCy pipeline with only its NER component, loaded once per process
    and kept for every later call (one entry per configured model)."""
    import spacy

    try:
        return spacy.load(model_name, enable=["ner"])
    except (OSError, ImportError, ValueError) as exc:
        # spaCy's own message says what it looked for; the traceback into its
        # loader does not help the person who has to fix the setting.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelUnavailable(
            f"spaCy model {model_name!r} named in NEWSFLOW_NER_MODELS cannot be loaded ({reason}); "
            f"install it with pip, or map the language to an installed pipeline in NEWSFLOW_NER_MODELS"
        ) from None


def model_version(nlp) -> str:
    """The package name and version of a loaded pipeline, e.g. "en_core_web_sm-3.8.0"."""
    meta = nlp.meta
    name = meta.get("name") or "unknown"
    lang = meta.get("lang")
    if lang and not name.startswith(f"{lang}_"):
        name = f"{lang}_{name}"
    return f"{name}-{meta.get('version') or 'unknown'}"


# An article whose language is unknown (no declaration, too short for the
# detector) is read as English: what feeds that declare nothing mostly are.
UNDECLARED_LANGUAGE = "en"


def language_tag(language: str | None) -> str:
    """A language as the model settings key it: lower case, "-" between subtags."""
    return (language or UNDECLARED_LANGUAGE).strip().lower().replace("_", "-") or UNDECLARED_LANGUAGE


def model_for_language(models: Mapping[str, str], language: str | None) -> str | None:
    """The model configured for a language: its full tag ("pt-br") first, then
    its primary subtag ("en" for "en-GB"); None when there is none."""
    tag = language_tag(language)
    keyed = {language_tag(key): name for key, name in models.items()}
    return keyed.get(tag) or keyed.get(tag.split("-")[0])


def _tag(nlp, items: Sequence[EnrichInput], max_chars: int) -> list[EnrichResult]:
    """Every item through ``nlp``: the caller has chosen it for their language."""
    texts = [model_text(item)[:max_chars] for item in items]
    return [
        EnrichResult(normalise_doc(doc, item.title), "truncated" if len(model_text(item)) > max_chars else "done")
        for item, doc in zip(items, nlp.pipe(texts, batch_size=32), strict=True)
    ]


def extract_entities_with_models(
    models: Mapping[str, str], items: Sequence[EnrichInput], max_chars: int
) -> list[tuple[str | None, EnrichResult]]:
    """Entities of each item with its own language's model (``models``:
    language -> spaCy model name, the ``ner_models`` setting), each result with
    the version of the model that produced it; items of a language without a
    model get status "no model for <lang>", no entities and no version.  Each
    model is loaded once per process (the form a worker process runs)."""
    results: list[tuple[str | None, EnrichResult] | None] = [None] * len(items)
    by_model: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(items):
        name = model_for_language(models, item.language)
        if name is None:
            results[index] = (None, EnrichResult([], f"no model for {language_tag(item.language)}"))
        else:
            by_model[name].append(index)
    for name, indexes in by_model.items():
        nlp = load_nlp(name)
        version = model_version(nlp)
        done = _tag(nlp, [items[index] for index in indexes], max_chars)
        for index, result in zip(indexes, done, strict=True):
            results[index] = (version, result)
    return [result for result in results if result is not None]


def model_versions(models: Mapping[str, str]) -> dict[str, str]:
    """Language -> version of its configured model ("en" -> "en_core_web_sm-3.8.0"),
    loading each model once; ModelUnavailable names a model that cannot be loaded."""
    return {language_tag(language): model_version(load_nlp(name)) for language, name in models.items()}


def model_text(item: EnrichInput, *, true_case: bool = True) -> str:
    """The text the model reads: title, blank line, text (or the text alone);
    a headline or a dateline in capitals true-cased (``true_case``, a rule
    ``bench/entities.py`` measures), the length unchanged."""
    text = true_cased_dateline(item.text) if true_case else item.text
    if not item.title:
        return text
    title = true_cased_title(item.title, item.text) if true_case else item.title
    return f"{title}\n\n{text}"

