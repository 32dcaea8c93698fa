"""Pure content core: CIDs, dag-pb/UnixFS codecs, the kubo-compatible
importer, the DAG reader and CAR files. No file system, no network: the
modules take bytes, readers/writers and callbacks (``emit``, ``get_block``).
"""
