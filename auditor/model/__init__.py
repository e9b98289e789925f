"""The network model: typed, immutable, linked resources built from a snapshot offline."""

from auditor.model.build import build_model
from auditor.model.types import RESOURCE_TYPES, Model, Resource, SourceRef

__all__ = ["build_model", "Model", "Resource", "SourceRef", "RESOURCE_TYPES"]
