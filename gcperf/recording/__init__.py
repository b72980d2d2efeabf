"""Recording a real program: ``gcperf record`` runs it under light instrumentation."""

from .format import SCHEMA_VERSION, Recording, load_recording
from .recorder import RecordOptions, default_pattern, record

__all__ = ["SCHEMA_VERSION", "RecordOptions", "Recording", "default_pattern", "load_recording", "record"]
