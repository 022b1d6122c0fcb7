"""Request and response models of the HTTP API (they make the OpenAPI schema)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProjectIn(_Strict):
    name: str = Field(min_length=1, max_length=200)


class KeyOut(BaseModel):
    project_id: int
    key_id: str
    api_key: str = Field(description="The key itself; shown only in this response.")


class ProjectOut(BaseModel):
    id: int
    name: str
    created_at: dt.datetime
    api_key: str = Field(description="The project's first key; shown only in this response.")


class ErrorDetectorSpec(_Strict):
    """A :mod:`shiftguard.stream` detector for the model-error stream."""

    name: str = Field(description="Detector class, e.g. ADWIN, PageHinkley, DDM.")
    params: dict[str, Any] = Field(default_factory=dict,
                                   description="Its constructor arguments.")


class MonitorOptions(_Strict):
    """Options of a monitor: those of :class:`shiftguard.stream.Monitor` (which passes them
    to :class:`shiftguard.drift.DriftDetector`), a name, an error stream and a webhook."""

    name: str = Field(default="monitor", min_length=1, max_length=200)
    alpha: float = Field(default=0.05, gt=0, lt=1,
                         description="Bound on P(any false alarm over the monitor's life).")
    horizon: int | None = Field(default=None, ge=1,
                                description="Number of batches, when known in advance.")
    columns: list[str] | None = None
    exclude: list[str] = Field(default_factory=list)
    kinds: dict[str, str] | None = None
    numeric_test: str = "ks"
    categorical_test: str = "chi2"
    text_test: str = "mmd"
    tests: dict[str, str] | None = None
    n_permutations: int = Field(default=1000, ge=1)
    seed: int | None = 0
    error_detector: ErrorDetectorSpec | None = None
    webhook_url: str | None = Field(default=None, max_length=2000,
                                    pattern=r"^https?://[^\s]+$")

    def monitor_params(self) -> dict[str, Any]:
        """The keyword arguments of :class:`shiftguard.stream.Monitor`."""
        return self.model_dump(exclude={"name", "error_detector", "webhook_url"})


class MonitorOut(BaseModel):
    id: int
    name: str
    created_at: dt.datetime
    options: dict[str, Any]
    columns: list[str]
    n_reference: int
    n_batches: int
    alarms: list[int] = Field(description="Steps whose batch raised a drift alarm.")


class ErrorStreamOut(BaseModel):
    detector: str
    n_values: int = Field(description="Error values in this batch.")
    n_seen: int = Field(description="Values the detector has seen since its last reset.")
    alarm_positions: list[int] = Field(description="Rows of the batch where it alarmed.")
    alarm: bool


class ColumnSummary(BaseModel):
    name: str
    kind: str
    test: str
    pvalue: float | None
    pvalue_adjusted: float | None
    effect_size: float | None
    effect_size_name: str
    drifted_at_alpha: bool = Field(description="Flagged by the report at the monitor's "
                                                "alpha (not the batch's spent level).")


class BatchOut(BaseModel):
    monitor_id: int
    step: int
    created_at: dt.datetime
    idempotency_key: str | None
    n_rows: int
    alarm: bool
    alpha_spent: float
    drifted_columns: list[str]
    min_pvalue_adjusted: float
    pvalues: dict[str, float | None]
    pvalues_adjusted: dict[str, float | None]
    error_stream: ErrorStreamOut | None
    columns: list[ColumnSummary] = Field(default_factory=list)
    alert_ids: list[int] = Field(default_factory=list)


class AlertOut(BaseModel):
    id: int
    monitor_id: int
    step: int
    kind: Literal["drift", "error_stream"]
    message: str
    status: Literal["open", "acknowledged"]
    webhook_status: str
    created_at: dt.datetime
    acknowledged_at: dt.datetime | None


class ErrorOut(BaseModel):
    """Every 4xx/5xx body."""

    error: str = Field(description="A short code: not_found, schema_mismatch, ...")
    detail: str = Field(description="What is wrong, in plain words.")
    column: str | None = None
    field: str | None = None
