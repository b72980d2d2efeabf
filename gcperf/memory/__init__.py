"""The memory model: CPython's allocators, simulated allocation by allocation.

* ``pymalloc.py``: pymalloc's arenas, pools and blocks (requests of 1..512 bytes);
* ``glibc.py``: the system malloc for larger requests (the brk heap, tcache, mmap);
* ``layout.py``: the constants and state-table columns both share with the driver;
* ``model.py``: the driver, :class:`MemoryModel` (pending frees, batches in program order);
* ``queued.py``: the model driven through a FIFO from a thread of its own.

(``gcperf/engine/kernels.py`` compiles, or loads, these kernels and the size draw's once per process.)

Data flows one way: the engine (``gcperf.machine``) hands allocations and frees to the model;
nothing here knows about the collector.
"""

from .glibc import chunk_size, mmapped_size
from .layout import NEVER
from .model import MemoryModel
from .pymalloc import AllocatorGeometry, geometry_for, size_class

__all__ = ["NEVER", "AllocatorGeometry", "MemoryModel", "chunk_size", "geometry_for", "mmapped_size", "size_class"]
