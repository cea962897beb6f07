"""Invariants of the stored data, and repairs for what can be recomputed.

Each check is one query counting the rows that break an invariant; a clean
database has every count at zero."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from pipeline.neardup import fingerprint
from pipeline.store import articles as article_store, entities as entity_store
from pipeline.store.runs import lease_held


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    count_sql: str


CHECKS = [
    Check("article-without-story", "articles that belong to no story",
          "SELECT count(*) FROM articles WHERE story_id IS NULL"),
    Check("story-count-mismatch", "stories whose article_count differs from their members",
          "SELECT count(*) FROM stories s WHERE s.article_count <>"
          " (SELECT count(*) FROM articles a WHERE a.story_id = s.id)"),
    Check("empty-story", "stories without a single article",
          "SELECT count(*) FROM stories s WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.story_id = s.id)"),
    Check("canonical-mismatch", "stories whose canonical article is not exactly their one is_canonical member",
          "SELECT count(*) FROM stories s WHERE s.canonical_article_id IS NULL"
          " OR NOT EXISTS (SELECT 1 FROM articles a WHERE a.id = s.canonical_article_id"
          "                AND a.story_id = s.id AND a.is_canonical)"
          " OR (SELECT count(*) FROM articles a WHERE a.story_id = s.id AND a.is_canonical) <> 1"),
    Check("article-without-fingerprint", "articles that near copies could not be matched against",
          "SELECT count(*) FROM articles a WHERE NOT EXISTS"
          " (SELECT 1 FROM article_fingerprints f WHERE f.article_id = a.id)"),
    Check("orphan-entity", "entities no article mentions",
          "SELECT count(*) FROM entities e WHERE NOT EXISTS"
          " (SELECT 1 FROM article_entities ae WHERE ae.entity_id = e.id)"),
    Check("copy-without-entities", "copies whose canonical article has entities but they have none yet",
          "SELECT count(*) FROM articles c JOIN stories s ON s.id = c.story_id"
          " JOIN articles canon ON canon.id = s.canonical_article_id"
          " WHERE NOT c.is_canonical AND c.entities_status = 'pending' AND canon.entities_status <> 'pending'"),
    Check("stale-lease", "feeds still leased by a run that died or whose lease lapsed (nobody released it)",
          f"SELECT count(*) FROM feeds f WHERE f.leased_by IS NOT NULL AND NOT {lease_held('f')}"),
]


def run_checks(conn: Connection) -> dict[str, int]:
    return {check.name: conn.execute(text(check.count_sql)).scalar_one() for check in CHECKS}


def repair(conn: Connection) -> dict[str, int]:
    """Fix what can be recomputed from the stored rows; returns rows touched
    per repair.  Entities of copies are filled by the next ingest or
    reenrich (they need no model, only the canonical article's rows)."""
    done: dict[str, int] = {}
    orphans = conn.execute(text("SELECT id FROM articles WHERE story_id IS NULL ORDER BY id")).scalars().all()
    for article_id in orphans:
        story_id = conn.execute(
            text("INSERT INTO stories (canonical_article_id, article_count) VALUES (:id, 1) RETURNING id"),
            {"id": article_id},
        ).scalar_one()
        conn.execute(text("UPDATE articles SET story_id = :story, match_kind = 'new' WHERE id = :id"),
                     {"story": story_id, "id": article_id})
    done["article-without-story"] = len(orphans)
    done["empty-story"] = conn.execute(text(
        "DELETE FROM stories s WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.story_id = s.id)"
    )).rowcount
    story_ids = conn.execute(text("SELECT id FROM stories")).scalars().all()
    article_store.rechoose_canonical(conn, story_ids)
    article_store.refresh_story_counts(conn, story_ids)
    missing = conn.execute(text(
        "SELECT a.id, a.text FROM articles a WHERE NOT EXISTS"
        " (SELECT 1 FROM article_fingerprints f WHERE f.article_id = a.id) ORDER BY a.id"
    )).all()
    for article_id, body in missing:
        article_store.store_fingerprint(conn, article_id, fingerprint(body))
    done["article-without-fingerprint"] = len(missing)
    done["orphan-entity"] = entity_store.delete_orphan_entities(conn)
    done["copy-without-entities"] = entity_store.copy_entities_to_copies(conn)
    done["stale-lease"] = conn.execute(text(
        "UPDATE feeds f SET leased_by = NULL, lease_until = NULL"
        f" WHERE f.leased_by IS NOT NULL AND NOT {lease_held('f')}"
    )).rowcount
    return done
