"""The blandness index: one 0-100 figure for how far a run has drifted towards degenerate text.

Each component metric m is placed on a line from a reference value r_m (the endpoint's own
baseline run, or the built-in reference when there is none) to the value d_m that fully
degenerate output takes (every output the same few words):

    b_m = clip((x_m - r_m) / (d_m - r_m), 0, 1)

and the index is 100 * mean_m b_m over the components the run has. So 0 means "as varied as
the baseline, or more", 100 means "as bland as text can be", and the index of a baseline
against itself is 0. Components cover word choice (distinct-2, the rarefied counts of rare and
of all word types, mean Zipf), repetition (rep-4) and meaning (embedding diversity within and
across prompts), so no single family dominates. Self-BLEU and the compression ratio are left
out: they move with distinct-n (both flagged the same generations of the project's recursive
chain), and neither has a cheap permutation, which the index's test needs. Every
length-sensitive component is its length-matched form (:mod:`evaluators.length`), measured at
the window shared with the reference, so answering at another length moves the index neither
way.
"""

from collections.abc import Mapping

# Built-in reference values, used when no baseline run is given: typical of varied
# human-written English at a few hundred outputs of ~80 words (distinct-2 of 100 prompts x 5
# human samples is about 0.59; human text gzips about 2.5:1, Shaib et al., 2024). They are
# coarse; the endpoint's own baseline is the better reference.
# Tail types and types per 1k are those of 100 x 5 thirty-word passages of documentation
# prose (83 and 424).
DEFAULT_REFERENCE: dict[str, float] = {
    "distinct_2_matched": 0.59,
    "tail_types_matched": 80.0,
    "types_per_1k_matched": 420.0,
    "mean_zipf": 4.6,
    "rep_4_matched": 0.01,
    "embedding_diversity_within_matched": 0.5,
    "embedding_diversity_across_matched": 0.9,
}

# Values of the components on fully degenerate output.
DEGENERATE: dict[str, float] = {
    "distinct_2_matched": 0.0,
    "tail_types_matched": 0.0,
    "types_per_1k_matched": 0.0,
    "mean_zipf": 6.0,
    "rep_4_matched": 1.0,
    "embedding_diversity_within_matched": 0.0,
    "embedding_diversity_across_matched": 0.0,
}

COMPONENTS = tuple(DEGENERATE)
_ROUNDING = 1e-9


def component_blandness(key: str, value: float, reference: float) -> float:
    """Where ``value`` of component ``key`` lies between ``reference`` (0) and the degenerate
    value (1), clipped to [0, 1]. A reference already at or past the degenerate value leaves
    no room to get blander: 0."""
    span = DEGENERATE[key] - reference
    blander_direction = DEGENERATE[key] - DEFAULT_REFERENCE[key]
    if span * blander_direction <= 0:
        return 0.0
    position = (value - reference) / span
    # The reference measured again from its own outputs differs from itself only by rounding
    # (1e-13): that is no step towards blandness, and an index of 1e-8 reads as "not 0".
    return min(1.0, max(0.0, position)) if abs(position) > _ROUNDING else 0.0


def blandness_index(
    values: Mapping[str, float], baseline: Mapping[str, float] | None = None
) -> float | None:
    """The blandness index of a run's metric ``values`` (see the module docstring), against
    ``baseline`` metric values, or the built-in reference for components the baseline lacks.
    None when the run has none of the components."""
    reference = {**DEFAULT_REFERENCE, **(baseline or {})}
    parts = [
        component_blandness(key, values[key], reference[key]) for key in COMPONENTS if key in values
    ]
    return 100 * sum(parts) / len(parts) if parts else None
