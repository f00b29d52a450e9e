"""The input contract of a model: the fields a request carries, their types and allowed values.

It is derived from the data schema when a model is logged (`core.schemas.input_contract`) and
travels inside the model folder, so the server validates exactly what that model was trained on,
with one source of truth and no pandas or pandera in the serving image.
"""

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, create_model

CONTRACT_FILE = "input_contract.json"


class Table(Protocol):
    """Values by column name: a DataFrame, or a dict of lists or arrays."""

    def __getitem__(self, name: str, /) -> Any: ...


@dataclass(frozen=True)
class Feature:
    """One input column: a number (optionally bounded) or a category from a fixed list."""

    name: str
    kind: Literal["number", "category"]
    nullable: bool
    minimum: float | None = None
    maximum: float | None = None
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Contract:
    """The ordered features of a model."""

    features: tuple[Feature, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(feature.name for feature in self.features)

    def save(self, folder: Path) -> Path:
        path = Path(folder) / CONTRACT_FILE
        path.write_text(json.dumps([asdict(f) for f in self.features], indent=2))
        return path

    @classmethod
    def load(cls, folder: Path) -> "Contract":
        path = model_file(folder, CONTRACT_FILE)
        if path is None:
            raise FileNotFoundError(
                f"{folder} has no {CONTRACT_FILE}: was this model logged by this project?"
            )
        features = json.loads(path.read_text())
        return cls(tuple(Feature(**f | {"categories": tuple(f["categories"])}) for f in features))

    def to_columns(self, table: Table) -> dict[str, np.ndarray]:
        """What a predictor takes: one 1-D array per feature, float64 (NaN for a missing value)
        for numbers, objects (None or NaN for a missing value) for categories. `table` maps each
        feature to its values: a DataFrame, or a dict of lists or arrays. Other keys are ignored;
        checking values against the contract is the caller's job."""
        return {
            f.name: np.asarray(table[f.name], dtype=np.float64 if f.kind == "number" else object)
            for f in self.features
        }

    def record_model(self) -> type[BaseModel]:
        """A pydantic model of one record: every field required, extra fields refused."""
        fields: dict[str, Any] = {f.name: (_annotation(f), ...) for f in self.features}
        return create_model("Record", __config__=ConfigDict(extra="forbid", frozen=True), **fields)


def model_file(folder: Path, name: str) -> Path | None:
    """A file logged beside an MLflow model: at its root, or where `extra_files=` puts it."""
    for path in (Path(folder) / name, Path(folder) / "extra_files" / name):
        if path.is_file():
            return path
    return None


def _annotation(feature: Feature) -> Any:
    if feature.kind == "category":
        kind: Any = Literal[feature.categories]
    else:
        # Strict: "41.5" and true are wrong types, not numbers to guess from; ints are numbers.
        number = Field(strict=True, allow_inf_nan=False, ge=feature.minimum, le=feature.maximum)
        kind = Annotated[float, number]
    return kind | None if feature.nullable else kind
