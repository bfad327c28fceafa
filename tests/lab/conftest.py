"""A small lab shared by the lab tests: a third of the probed entities and fewer extra cities,
so a generation trains in a fraction of a second."""

import pytest

from monitor.lab import CorpusSettings, Lab, LabConfig

SMALL_CONFIG = LabConfig(seed=0, probe_stride=3, corpus=CorpusSettings(extra_cities=1500))


@pytest.fixture(scope="session")
def small_lab() -> Lab:
    return Lab(SMALL_CONFIG)
