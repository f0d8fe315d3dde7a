"""``probes.yaml``: the regions and probes the controller knows."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REGIONS = {
    "nam": "North America",
    "lam": "Latin America",
    "eur": "Europe",
    "eao": "East Asia/Oceania",
    "wlw": "Worldwide",
}


@dataclass(frozen=True)
class Probe:
    id: str
    region: str
    location: str = ""
    country: str = ""
    ipv4: str = ""
    ipv6: str = ""

    def info(self) -> dict[str, Any]:
        return {
            "country": self.country,
            "ipv4": self.ipv4,
            "ipv6": self.ipv6,
            "location": self.id,
            "locationname": self.location,
            "region": self.region,
            "regionname": REGIONS.get(self.region, self.region),
        }


@dataclass(frozen=True)
class ProbeMap:
    probes: dict[str, Probe] = field(default_factory=lambda: {"local": Probe("local", "nam", "This host")})
    regions: dict[str, str] = field(default_factory=lambda: dict(REGIONS))

    def in_region(self, region: str) -> list[Probe]:
        if region == "wlw":
            return list(self.probes.values())
        return [p for p in self.probes.values() if p.region == region]


def load_probes(path: str | os.PathLike[str] | None = None) -> ProbeMap:
    """Read probes.yaml (``VEDETTE_PROBES`` or ./probes.yaml); without one, the single local probe."""
    candidate = Path(path or os.environ.get("VEDETTE_PROBES", "probes.yaml"))
    if not candidate.is_file():
        return ProbeMap()
    data = yaml.safe_load(candidate.read_text()) or {}
    regions = {**REGIONS, **{str(k): str(v) for k, v in (data.get("regions") or {}).items()}}
    probes: dict[str, Probe] = {}
    for entry in data.get("probes") or []:
        probe = Probe(**{k: str(v) for k, v in entry.items() if k in Probe.__dataclass_fields__})
        if probe.region not in regions:
            raise ValueError(f"{candidate}: probe {probe.id} has unknown region {probe.region}")
        probes[probe.id] = probe
    return ProbeMap(probes=probes or ProbeMap().probes, regions=regions)
