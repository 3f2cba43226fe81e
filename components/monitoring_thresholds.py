"""The numbers behind the monitors, SLOs and dashboard markers, with the product's defaults.

The product brief: 99.9% availability and API responses under 200 ms (read as p95 <= 200 ms).
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1024**3


@dataclass(frozen=True)
class MonitoringThresholds:
    latency_p95_seconds: float = 0.2
    latency_p95_warning_seconds: float = 0.15
    # 5xx share of all requests, in percent, over the evaluation window.
    error_rate_percent: float = 2.0
    error_rate_warning_percent: float = 1.0
    # Low-traffic guard: the rate is taken over at least this many requests per window, so a
    # handful of errors at night cannot page anyone.
    error_rate_min_requests: int = 100
    db_cpu_percent: float = 80.0
    db_cpu_warning_percent: float = 70.0
    db_free_storage_gib: float = 2.0
    db_free_storage_warning_gib: float = 5.0
    # Share of the database's max_connections in use.
    db_connections_ratio: float = 0.8
    db_connections_warning_ratio: float = 0.7
    availability_target_percent: float = 99.9
    # Share of 5-minute slices whose p95 is within latency_p95_seconds.
    latency_slo_target_percent: float = 99.0
    # Multi-window burn rates (Google SRE workbook): 2% of a 30-day budget in 1 h, 5% in 6 h.
    fast_burn_rate: float = 14.4
    slow_burn_rate: float = 6.0
    heartbeat_max_response_ms: int = 1000

    def __post_init__(self) -> None:
        pairs = (
            (
                "latency_p95_warning_seconds",
                self.latency_p95_warning_seconds,
                "latency_p95_seconds",
                self.latency_p95_seconds,
            ),
            (
                "error_rate_warning_percent",
                self.error_rate_warning_percent,
                "error_rate_percent",
                self.error_rate_percent,
            ),
            (
                "db_cpu_warning_percent",
                self.db_cpu_warning_percent,
                "db_cpu_percent",
                self.db_cpu_percent,
            ),
            (
                "db_connections_warning_ratio",
                self.db_connections_warning_ratio,
                "db_connections_ratio",
                self.db_connections_ratio,
            ),
            ("slow_burn_rate", self.slow_burn_rate, "fast_burn_rate", self.fast_burn_rate),
        )
        for low_name, low, high_name, high in pairs:
            if not 0 < low < high:
                raise ValueError(
                    f"{low_name} ({low}) must be above 0 and below {high_name} ({high})"
                )
        if not 0 < self.db_free_storage_gib < self.db_free_storage_warning_gib:
            raise ValueError(
                f"db_free_storage_gib ({self.db_free_storage_gib}) must be above 0 and below "
                f"db_free_storage_warning_gib ({self.db_free_storage_warning_gib})"
            )
        if self.error_rate_percent > 100 or self.db_cpu_percent > 100:
            raise ValueError("percent thresholds must be at most 100")
        if self.db_connections_ratio > 1:
            raise ValueError(
                f"db_connections_ratio must be at most 1, got {self.db_connections_ratio}"
            )
        for name, target in (
            ("availability_target_percent", self.availability_target_percent),
            ("latency_slo_target_percent", self.latency_slo_target_percent),
        ):
            if not 0 < target < 100:
                raise ValueError(f"{name} must be between 0 and 100 (exclusive), got {target}")
        if self.error_rate_min_requests < 1:
            raise ValueError(
                f"error_rate_min_requests must be at least 1, got {self.error_rate_min_requests}"
            )
        if self.heartbeat_max_response_ms < 1:
            raise ValueError(
                f"heartbeat_max_response_ms must be positive, got {self.heartbeat_max_response_ms}"
            )

    @property
    def db_free_storage_bytes(self) -> float:
        return self.db_free_storage_gib * GIB

    @property
    def db_free_storage_warning_bytes(self) -> float:
        return self.db_free_storage_warning_gib * GIB

