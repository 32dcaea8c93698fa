"""Content service: the embedded blockstore, pins, GC, VFS, and add/cat/get/car."""
