# Copyright (c) Lightning authors. MIT License.
"""A small ctypes binding of Lightning's C API (capi/include/lightning/lightning_db.h).

Standard library only. The shared library is found, in order, at the path in
the LIGHTNING_LIBRARY environment variable, by ctypes.util.find_library
("Lightning", i.e. an installed libLightning.so), or as libLightning.so on
the loader's search path (LD_LIBRARY_PATH).

    import lightning_db
    with lightning_db.Database("/tmp/demo") as db:
        db.put(b"key", b"value")
        assert db.get(b"key") == b"value"
        for key, value in db.scan(prefix=b"k"):
            ...

Keys and values are bytes (str is accepted and encoded as UTF-8); values come
back as bytes. Errors raise LightningError subclasses carrying the C API's
code and message; a missing key is not an error for get() (it returns None).

Threads: a Database may be shared by threads (the C calls release the GIL);
a Transaction, Scan or WriteBatch belongs to one thread at a time.
"""

import collections
import ctypes
import ctypes.util
import os

__all__ = [
    "Database", "Transaction", "WriteBatch", "LightningError", "NotFoundError", "CorruptionError",
    "NotSupportedError", "InvalidArgumentError", "LightningIOError", "BusyError", "ConflictError", "ClosedError",
    "AbortedError", "version", "load_library", "BackupEngine", "BackupInfo", "ChangeEvent", "Subscription",
    "verify_database", "repair_database",
]

OK, NOT_FOUND, CORRUPTION, NOT_SUPPORTED, INVALID_ARGUMENT, IO_ERROR, BUSY, CONFLICT, CLOSED, ABORTED = range(10)
BUFFER_TOO_SMALL = 100

COMPRESSION = {"none": 0, "zstd": 1, "lz4": 2, "snappy": 3}
WAL_SYNC = {"full": 0, "normal": 1, "off": 2}
ISOLATION = {"snapshot": 0, "serializable": 1}
CHANGE_PUT, CHANGE_DELETE, CHANGE_LOST = range(3)

# A backup of a BackupEngine root (see BackupEngine.list()).
BackupInfo = collections.namedtuple("BackupInfo", "id timestamp size file_count last_sequence")
# One change delivered to a subscription callback: type is CHANGE_PUT, CHANGE_DELETE or CHANGE_LOST (then
# lost_events events were dropped before it and key and value are empty).
ChangeEvent = collections.namedtuple("ChangeEvent", "type sequence key value lost_events")


class LightningError(Exception):
    """An error code of the C API (lightning_strerror names it) and its message."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class NotFoundError(LightningError):
    pass


class CorruptionError(LightningError):
    pass


class NotSupportedError(LightningError):
    pass


class InvalidArgumentError(LightningError):
    pass


class LightningIOError(LightningError):
    pass


class BusyError(LightningError):
    pass


class ConflictError(LightningError):
    """A transaction lost a race: nothing was applied; run it again."""


class ClosedError(LightningError):
    pass


class AbortedError(LightningError):
    pass


_ERRORS = {
    NOT_FOUND: NotFoundError, CORRUPTION: CorruptionError, NOT_SUPPORTED: NotSupportedError,
    INVALID_ARGUMENT: InvalidArgumentError, IO_ERROR: LightningIOError, BUSY: BusyError, CONFLICT: ConflictError,
    CLOSED: ClosedError, ABORTED: AbortedError,
}

_c_char_pp = ctypes.POINTER(ctypes.c_char_p)
_errmsg_t = ctypes.POINTER(ctypes.c_void_p)  # char**: kept as void* so that we can free it
_size_p = ctypes.POINTER(ctypes.c_size_t)

# name: (restype, argtypes)
_SIGNATURES = {
    "lightning_strerror": (ctypes.c_char_p, [ctypes.c_int]),
    "lightning_free": (None, [ctypes.c_void_p]),
    "lightning_version_string": (ctypes.c_char_p, []),
    "lightning_version_number": (ctypes.c_uint32, []),
    "lightning_options_create": (ctypes.c_void_p, []),
    "lightning_options_destroy": (None, [ctypes.c_void_p]),
    "lightning_options_set_create_if_missing": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
    "lightning_options_set_error_if_exists": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
    "lightning_options_set_cache_size": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_size_t]),
    "lightning_options_set_memtable_size": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_size_t]),
    "lightning_options_set_compression": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
    "lightning_options_set_wal_sync_mode": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
    "lightning_options_set_in_memory": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
    "lightning_writeoptions_create": (ctypes.c_void_p, []),
    "lightning_writeoptions_destroy": (None, [ctypes.c_void_p]),
    "lightning_writeoptions_set_sync": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
    "lightning_db_open": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p),
                                         _errmsg_t]),
    "lightning_db_close": (ctypes.c_int, [ctypes.c_void_p, _errmsg_t]),
    "lightning_db_destroy": (None, [ctypes.c_void_p]),
    "lightning_db_put_ex": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                           ctypes.c_char_p, ctypes.c_size_t, _errmsg_t]),
    "lightning_db_delete_ex": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                              _errmsg_t]),
    "lightning_db_get_ex": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                           ctypes.POINTER(ctypes.c_void_p), _size_p, _errmsg_t]),
    "lightning_db_flush": (ctypes.c_int, [ctypes.c_void_p, _errmsg_t]),
    "lightning_db_compact": (ctypes.c_int, [ctypes.c_void_p, _errmsg_t]),
    "lightning_writebatch_create": (ctypes.c_void_p, []),
    "lightning_writebatch_destroy": (None, [ctypes.c_void_p]),
    "lightning_writebatch_put": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                                                ctypes.c_size_t, _errmsg_t]),
    "lightning_writebatch_delete": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, _errmsg_t]),
    "lightning_writebatch_count": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32)]),
    "lightning_db_write": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, _errmsg_t]),
    "lightning_db_scan_create": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                                ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t,
                                                ctypes.c_int, ctypes.c_size_t, ctypes.POINTER(ctypes.c_void_p),
                                                _errmsg_t]),
    "lightning_transaction_scan_create": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                                         ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                                                         ctypes.c_size_t, ctypes.c_int, ctypes.c_size_t,
                                                         ctypes.POINTER(ctypes.c_void_p), _errmsg_t]),
    "lightning_scan_destroy": (None, [ctypes.c_void_p]),
    "lightning_scan_next": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int),
                                           ctypes.POINTER(ctypes.c_void_p), _size_p,
                                           ctypes.POINTER(ctypes.c_void_p), _size_p, _errmsg_t]),
    "lightning_transaction_begin": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                                   ctypes.POINTER(ctypes.c_void_p), _errmsg_t]),
    "lightning_transaction_destroy": (None, [ctypes.c_void_p]),
    "lightning_transaction_get": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                                 ctypes.POINTER(ctypes.c_void_p), _size_p, _errmsg_t]),
    "lightning_transaction_put": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                                                 ctypes.c_size_t, _errmsg_t]),
    "lightning_transaction_delete": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, _errmsg_t]),
    "lightning_transaction_commit": (ctypes.c_int, [ctypes.c_void_p, _errmsg_t]),
    "lightning_transaction_abort": (ctypes.c_int, [ctypes.c_void_p, _errmsg_t]),
    "lightning_db_stats": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), _errmsg_t]),
    "lightning_stats_destroy": (None, [ctypes.c_void_p]),
    "lightning_stats_count": (ctypes.c_int, [ctypes.c_void_p, _size_p]),
    "lightning_stats_entry": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_size_t, _c_char_pp,
                                             ctypes.POINTER(ctypes.c_uint64)]),
    "lightning_db_checkpoint": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, _errmsg_t]),
    "lightning_verify_report_create": (ctypes.c_void_p, []),
    "lightning_verify_report_destroy": (None, [ctypes.c_void_p]),
    "lightning_verify_report_count": (ctypes.c_int, [ctypes.c_void_p, _size_p]),
    "lightning_verify_report_entry": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_size_t, _c_char_pp,
                                                     ctypes.POINTER(ctypes.c_uint64)]),
    "lightning_db_verify": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, _errmsg_t]),
    "lightning_verify_database": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, _errmsg_t]),
    "lightning_repair_report_create": (ctypes.c_void_p, []),
    "lightning_repair_report_destroy": (None, [ctypes.c_void_p]),
    "lightning_repair_report_count": (ctypes.c_int, [ctypes.c_void_p, _size_p]),
    "lightning_repair_report_entry": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_size_t, _c_char_pp,
                                                     ctypes.POINTER(ctypes.c_uint64)]),
    "lightning_repair_report_dropped_count": (ctypes.c_int, [ctypes.c_void_p, _size_p]),
    "lightning_repair_report_dropped": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_size_t, _c_char_pp]),
    "lightning_repair_database": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, _errmsg_t]),
    "lightning_backup_engine_open": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p),
                                                    _errmsg_t]),
    "lightning_backup_engine_close": (ctypes.c_int, [ctypes.c_void_p, _errmsg_t]),
    "lightning_backup_engine_destroy": (None, [ctypes.c_void_p]),
    "lightning_backup_engine_create_backup": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p,
                                                             ctypes.POINTER(ctypes.c_uint64), _errmsg_t]),
    "lightning_backup_engine_list_backups": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p),
                                                            _errmsg_t]),
    "lightning_backup_list_destroy": (None, [ctypes.c_void_p]),
    "lightning_backup_list_count": (ctypes.c_int, [ctypes.c_void_p, _size_p]),
    "lightning_backup_list_get": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_size_t] +
                                  [ctypes.POINTER(ctypes.c_uint64)] * 5),
    "lightning_backup_engine_verify_backup": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_uint64, _errmsg_t]),
    "lightning_backup_engine_delete_backup": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_uint64, _errmsg_t]),
    "lightning_backup_engine_purge_old_backups": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_size_t, _errmsg_t]),
    "lightning_backup_engine_restore": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_char_p,
                                                       ctypes.c_int, _errmsg_t]),
    "lightning_subscribeoptions_create": (ctypes.c_void_p, []),
    "lightning_subscribeoptions_destroy": (None, [ctypes.c_void_p]),
    "lightning_subscribeoptions_set_prefix": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]),
    "lightning_subscribeoptions_set_range": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                                            ctypes.c_char_p, ctypes.c_size_t]),
    "lightning_subscribeoptions_set_max_pending_events": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_size_t]),
    "lightning_subscribeoptions_set_overflow": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
    "lightning_db_subscribe": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                              ctypes.POINTER(ctypes.c_void_p), _errmsg_t]),
    "lightning_subscription_destroy": (None, [ctypes.c_void_p]),
    "lightning_subscription_unsubscribe": (ctypes.c_int, [ctypes.c_void_p]),
    "lightning_subscription_active": (ctypes.c_int, [ctypes.c_void_p]),
    "lightning_subscription_status": (ctypes.c_int, [ctypes.c_void_p, _errmsg_t]),
    "lightning_subscription_events_delivered": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint64)]),
    "lightning_subscription_events_lost": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint64)]),
    "lightning_change_event_type": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]),
    "lightning_change_event_sequence": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint64)]),
    "lightning_change_event_key": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), _size_p]),
    "lightning_change_event_value": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), _size_p]),
    "lightning_change_event_lost_events": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint64)]),
}

# void (*)(void* state, const lightning_change_event_t* event)
_CHANGE_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)

_lib = None


def load_library(path=None):
    """Loads (once) and returns the C library; see the module doc for where it is looked for."""
    global _lib
    if _lib is not None:
        return _lib
    candidates = [path or os.environ.get("LIGHTNING_LIBRARY"), ctypes.util.find_library("Lightning"),
                  "libLightning.so"]
    errors = []
    for candidate in candidates:
        if not candidate:
            continue
        try:
            lib = ctypes.CDLL(candidate)
        except OSError as e:
            errors.append(str(e))
            continue
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.restype = restype
            fn.argtypes = argtypes
        _lib = lib
        return lib
    raise OSError("libLightning not found (set LIGHTNING_LIBRARY to its path): " + "; ".join(errors))


def version():
    """The library's version string, e.g. "0.1.0"."""
    return load_library().lightning_version_string().decode()


def _bytes(data, what="key"):
    if isinstance(data, str):
        return data.encode()
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise TypeError("%s must be bytes or str, not %s" % (what, type(data).__name__))


def _opt_bytes(data, what):
    return None if data is None else _bytes(data, what)


def _check(code, errmsg):
    """Raises the error for code (freeing the C message), or returns."""
    message = None
    if errmsg.value:
        message = ctypes.string_at(errmsg.value).decode(errors="replace")
        _lib.lightning_free(errmsg.value)
        errmsg.value = None
    if code == OK:
        return
    if message is None:
        message = _lib.lightning_strerror(code).decode()
    raise _ERRORS.get(code, LightningError)(code, message)


def _call(fn, *args):
    """Calls a C function whose last argument is char** errmsg, raising on error."""
    errmsg = ctypes.c_void_p()
    _check(fn(*args, ctypes.byref(errmsg)), errmsg)


def _take_value(ptr, length):
    """Copies a malloc'd C value into bytes and frees it."""
    try:
        return ctypes.string_at(ptr.value, length.value)
    finally:
        _lib.lightning_free(ptr.value)


class _Handle:
    """Owns one C handle: _destroy names the C function that frees it. Freed when the object is collected, or by
    close() where close() frees; as a context manager close() runs at the end of the block."""

    _destroy = None

    def _free(self):
        handle = getattr(self, "_handle", None)
        if handle and _lib is not None:
            getattr(_lib, self._destroy)(handle)
            self._handle = None

    def close(self):
        self._free()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def __del__(self):
        self._free()


class WriteBatch(_Handle):
    """Puts and deletes applied atomically by Database.write()."""

    _destroy = "lightning_writebatch_destroy"

    def __init__(self):
        load_library()
        self._handle = _lib.lightning_writebatch_create()
        if not self._handle:
            raise MemoryError("lightning_writebatch_create")

    def put(self, key, value):
        key, value = _bytes(key), _bytes(value, "value")
        _call(_lib.lightning_writebatch_put, self._handle, key, len(key), value, len(value))

    def delete(self, key):
        key = _bytes(key)
        _call(_lib.lightning_writebatch_delete, self._handle, key, len(key))

    def __len__(self):
        count = ctypes.c_uint32()
        _check(_lib.lightning_writebatch_count(self._handle, ctypes.byref(count)), ctypes.c_void_p())
        return count.value


def _scan(create, args):
    """Yields (key, value) copies from a scan made by create(*args, &scan, &errmsg); the scan is destroyed when
    the generator finishes or is closed."""
    scan = ctypes.c_void_p()
    _call(create, *args, ctypes.byref(scan))
    try:
        has_entry = ctypes.c_int()
        key, key_len = ctypes.c_void_p(), ctypes.c_size_t()
        value, value_len = ctypes.c_void_p(), ctypes.c_size_t()
        while True:
            _call(_lib.lightning_scan_next, scan, ctypes.byref(has_entry), ctypes.byref(key), ctypes.byref(key_len),
                  ctypes.byref(value), ctypes.byref(value_len))
            if not has_entry.value:
                return
            # Borrowed until the next call: copy before yielding.
            yield ctypes.string_at(key.value, key_len.value), ctypes.string_at(value.value, value_len.value)
    finally:
        _lib.lightning_scan_destroy(scan)


def _scan_args(start, end, prefix, reverse, limit):
    start, end = _opt_bytes(start, "start"), _opt_bytes(end, "end")
    prefix = _opt_bytes(prefix, "prefix") or b""
    return (start, len(start or b""), end, len(end or b""), prefix, len(prefix), 1 if reverse else 0, limit)


class Transaction(_Handle):
    """An optimistic transaction (Database.transaction()). commit() raises ConflictError when another commit
    got there first; Database.run_transaction() retries for you. As a context manager it commits when the block
    succeeds and aborts when it raises."""

    _destroy = "lightning_transaction_destroy"

    def __init__(self, db, handle):
        self._db = db  # keeps the database object alive while the transaction is
        self._handle = handle

    def get(self, key, default=None):
        key = _bytes(key)
        value, length = ctypes.c_void_p(), ctypes.c_size_t()
        errmsg = ctypes.c_void_p()
        code = _lib.lightning_transaction_get(self._handle, key, len(key), ctypes.byref(value),
                                              ctypes.byref(length), ctypes.byref(errmsg))
        if code == NOT_FOUND:
            _check(OK, errmsg)
            return default
        _check(code, errmsg)
        return _take_value(value, length)

    def put(self, key, value):
        key, value = _bytes(key), _bytes(value, "value")
        _call(_lib.lightning_transaction_put, self._handle, key, len(key), value, len(value))

    def delete(self, key):
        key = _bytes(key)
        _call(_lib.lightning_transaction_delete, self._handle, key, len(key))

    def scan(self, start=None, end=None, prefix=None, reverse=False, limit=0):
        """As Database.scan, over the snapshot with this transaction's writes on top."""
        return _scan(_lib.lightning_transaction_scan_create, (self._handle,) + _scan_args(start, end, prefix,
                                                                                           reverse, limit))

    def commit(self):
        _call(_lib.lightning_transaction_commit, self._handle)

    def abort(self):
        _call(_lib.lightning_transaction_abort, self._handle)

    def close(self):
        """Frees the transaction (aborting it if still active)."""
        self._free()

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.commit()
        finally:
            self.close()
        return False


class Database(_Handle):
    """An open database. Options: create_if_missing, error_if_exists, compression ("none", "zstd", "lz4",
    "snappy"), wal_sync ("full", "normal", "off"), cache_size and memtable_size in bytes, in_memory."""

    _destroy = "lightning_db_destroy"

    def __init__(self, path, create_if_missing=True, error_if_exists=False, compression=None, wal_sync=None,
                 cache_size=None, memtable_size=None, in_memory=False, library=None):
        lib = load_library(library)
        options = lib.lightning_options_create()
        if not options:
            raise MemoryError("lightning_options_create")
        try:
            lib.lightning_options_set_create_if_missing(options, 1 if create_if_missing else 0)
            lib.lightning_options_set_error_if_exists(options, 1 if error_if_exists else 0)
            if compression is not None:
                lib.lightning_options_set_compression(options, COMPRESSION[compression])
            if wal_sync is not None:
                lib.lightning_options_set_wal_sync_mode(options, WAL_SYNC[wal_sync])
            if cache_size is not None:
                lib.lightning_options_set_cache_size(options, cache_size)
            if memtable_size is not None:
                lib.lightning_options_set_memtable_size(options, memtable_size)
            if in_memory:
                lib.lightning_options_set_in_memory(options, 1)
            handle = ctypes.c_void_p()
            _call(lib.lightning_db_open, os.fsencode(path), options, ctypes.byref(handle))
            self._handle = handle
        finally:
            lib.lightning_options_destroy(options)

    def close(self):
        """Closes the database; later calls raise ClosedError. Closing again is fine."""
        if self._handle:
            _call(_lib.lightning_db_close, self._handle)


    def put(self, key, value, sync=False):
        """Sets key to value; sync=True fsyncs before returning."""
        key, value = _bytes(key), _bytes(value, "value")
        write_options = None
        if sync:
            write_options = _lib.lightning_writeoptions_create()
            _lib.lightning_writeoptions_set_sync(write_options, 1)
        try:
            _call(_lib.lightning_db_put_ex, self._handle, write_options, key, len(key), value, len(value))
        finally:
            if write_options:
                _lib.lightning_writeoptions_destroy(write_options)

    def get(self, key, default=None):
        """The value of key as bytes, or default if it is absent."""
        key = _bytes(key)
        value, length = ctypes.c_void_p(), ctypes.c_size_t()
        errmsg = ctypes.c_void_p()
        code = _lib.lightning_db_get_ex(self._handle, None, key, len(key), ctypes.byref(value), ctypes.byref(length),
                                        ctypes.byref(errmsg))
        if code == NOT_FOUND:
            _check(OK, errmsg)
            return default
        _check(code, errmsg)
        return _take_value(value, length)

    def delete(self, key):
        """Removes key (a missing key is not an error)."""
        key = _bytes(key)
        _call(_lib.lightning_db_delete_ex, self._handle, None, key, len(key))

    def write(self, batch):
        """Applies a WriteBatch atomically."""
        _call(_lib.lightning_db_write, self._handle, None, batch._handle)

    def batch(self):
        """A context manager collecting a WriteBatch that is written when the block succeeds."""
        db = self

        class _BatchContext:
            def __enter__(self):
                self.batch = WriteBatch()
                return self.batch

            def __exit__(self, exc_type, exc, tb):
                if exc_type is None:
                    db.write(self.batch)
                return False

        return _BatchContext()

    def scan(self, start=None, end=None, prefix=None, reverse=False, limit=0):
        """Yields (key, value) pairs with start <= key < end (None: unbounded) in the database's order,
        keeping keys that begin with prefix, descending if reverse, at most limit of them (0: all). Reads a
        consistent view as of the first next()."""
        return _scan(_lib.lightning_db_scan_create, (self._handle, None) + _scan_args(start, end, prefix, reverse,
                                                                                        limit))

    def transaction(self, isolation="snapshot"):
        """Begins a Transaction ("snapshot" or "serializable" isolation)."""
        handle = ctypes.c_void_p()
        _call(_lib.lightning_transaction_begin, self._handle, None, ISOLATION[isolation], ctypes.byref(handle))
        return Transaction(self, handle)

    def run_transaction(self, fn, isolation="snapshot", max_attempts=100):
        """Runs fn(txn) in a transaction and commits it, running it again in a fresh transaction whenever the
        commit raises ConflictError (up to max_attempts times, then the ConflictError propagates). Returns
        fn's result. fn must have no effects outside txn, since it may run more than once."""
        for attempt in range(1, max_attempts + 1):
            txn = self.transaction(isolation)
            try:
                result = fn(txn)
                txn.commit()
                return result
            except ConflictError:
                if attempt == max_attempts:
                    raise
            finally:
                txn.close()

    def flush(self):
        _call(_lib.lightning_db_flush, self._handle)

    def compact(self):
        _call(_lib.lightning_db_compact, self._handle)

    def checkpoint(self, directory):
        """Writes an openable copy of the database as of now into directory (missing or empty)."""
        _call(_lib.lightning_db_checkpoint, self._handle, os.fsencode(directory))

    def verify(self):
        """Checks every byte of every live file; returns the counts as a dict (name -> int); raises
        CorruptionError naming the damaged file."""
        return _verify(lambda report: _call(_lib.lightning_db_verify, self._handle, report))

    def subscribe(self, callback, prefix=None, start=None, end=None, max_pending_events=None,
                  block_writers=False):
        """Calls callback(ChangeEvent) on a delivery thread for every put and delete committed from now on
        whose key begins with prefix and lies in [start, end) (None: no limit). When more than
        max_pending_events wait, writers wait (block_writers=True; the callback must then not write) or the
        events are dropped and reported by one CHANGE_LOST event. Returns a Subscription; closing it (or the
        database) ends the calls. An exception from callback is printed by ctypes and otherwise ignored."""
        options = _lib.lightning_subscribeoptions_create()
        if not options:
            raise MemoryError("lightning_subscribeoptions_create")
        try:
            if prefix is not None:
                prefix = _bytes(prefix, "prefix")
                _check(_lib.lightning_subscribeoptions_set_prefix(options, prefix, len(prefix)), ctypes.c_void_p())
            start, end = _opt_bytes(start, "start"), _opt_bytes(end, "end")
            _check(_lib.lightning_subscribeoptions_set_range(options, start, len(start or b""), end,
                                                             len(end or b"")), ctypes.c_void_p())
            if max_pending_events is not None:
                _check(_lib.lightning_subscribeoptions_set_max_pending_events(options, max_pending_events),
                       ctypes.c_void_p())
            _check(_lib.lightning_subscribeoptions_set_overflow(options, 1 if block_writers else 0),
                   ctypes.c_void_p())
            trampoline = _CHANGE_FN(lambda state, event: callback(_change_event(event)))
            handle = ctypes.c_void_p()
            _call(_lib.lightning_db_subscribe, self._handle, options, ctypes.cast(trampoline, ctypes.c_void_p),
                  None, ctypes.byref(handle))
            return Subscription(handle, trampoline)
        finally:
            _lib.lightning_subscribeoptions_destroy(options)

    def stats(self):
        """The database's counters and gauges as a dict of name -> int."""
        stats = ctypes.c_void_p()
        _call(_lib.lightning_db_stats, self._handle, ctypes.byref(stats))
        try:
            count = ctypes.c_size_t()
            _lib.lightning_stats_count(stats, ctypes.byref(count))
            result = {}
            name, value = ctypes.c_char_p(), ctypes.c_uint64()
            for i in range(count.value):
                _lib.lightning_stats_entry(stats, i, ctypes.byref(name), ctypes.byref(value))
                result[name.value.decode()] = value.value
            return result
        finally:
            _lib.lightning_stats_destroy(stats)


def _verify(run):
    """Runs run(report handle) and returns the report's counts as a dict."""
    report = _lib.lightning_verify_report_create()
    if not report:
        raise MemoryError("lightning_verify_report_create")
    try:
        run(report)
        count = ctypes.c_size_t()
        _lib.lightning_verify_report_count(report, ctypes.byref(count))
        result = {}
        name, value = ctypes.c_char_p(), ctypes.c_uint64()
        for i in range(count.value):
            _lib.lightning_verify_report_entry(report, i, ctypes.byref(name), ctypes.byref(value))
            result[name.value.decode()] = value.value
        return result
    finally:
        _lib.lightning_verify_report_destroy(report)


def verify_database(path, library=None):
    """Database.verify() for a database that is not open (BusyError if it is), with the default comparator;
    returns the counts as a dict."""
    lib = load_library(library)
    return _verify(lambda report: _call(lib.lightning_verify_database, os.fsencode(path), None, report))


def repair_database(path, library=None):
    """Salvages a damaged database that is not open (BusyError if it is), with the default comparator, so that
    it opens and verifies afterwards. Returns the report as a dict (name -> int; flags 0/1) whose "dropped" entry
    lists one line per damaged region dropped."""
    lib = load_library(library)
    report = lib.lightning_repair_report_create()
    if not report:
        raise MemoryError("lightning_repair_report_create")
    try:
        _call(lib.lightning_repair_database, os.fsencode(path), None, report)
        count = ctypes.c_size_t()
        lib.lightning_repair_report_count(report, ctypes.byref(count))
        result = {}
        name, value = ctypes.c_char_p(), ctypes.c_uint64()
        for i in range(count.value):
            lib.lightning_repair_report_entry(report, i, ctypes.byref(name), ctypes.byref(value))
            result[name.value.decode()] = value.value
        lib.lightning_repair_report_dropped_count(report, ctypes.byref(count))
        line = ctypes.c_char_p()
        result["dropped"] = []
        for i in range(count.value):
            lib.lightning_repair_report_dropped(report, i, ctypes.byref(line))
            result["dropped"].append(line.value.decode(errors="replace"))
        return result
    finally:
        lib.lightning_repair_report_destroy(report)


def _change_event(event):
    """A ChangeEvent copied out of the C event (valid only during the callback)."""
    kind, sequence, lost = ctypes.c_int(), ctypes.c_uint64(), ctypes.c_uint64()
    key, key_len = ctypes.c_void_p(), ctypes.c_size_t()
    value, value_len = ctypes.c_void_p(), ctypes.c_size_t()
    _lib.lightning_change_event_type(event, ctypes.byref(kind))
    _lib.lightning_change_event_sequence(event, ctypes.byref(sequence))
    _lib.lightning_change_event_key(event, ctypes.byref(key), ctypes.byref(key_len))
    _lib.lightning_change_event_value(event, ctypes.byref(value), ctypes.byref(value_len))
    _lib.lightning_change_event_lost_events(event, ctypes.byref(lost))
    return ChangeEvent(kind.value, sequence.value, ctypes.string_at(key.value, key_len.value),
                       ctypes.string_at(value.value, value_len.value), lost.value)


class Subscription(_Handle):
    """A live Database.subscribe(); close() (or the database's close) ends the callbacks."""

    _destroy = "lightning_subscription_destroy"

    def __init__(self, handle, trampoline):
        self._handle = handle
        self._trampoline = trampoline  # the C function pointer must live as long as the subscription

    def unsubscribe(self):
        """Stops the callbacks as close() does, keeping the counters readable (final once this returns)."""
        if self._handle:
            _lib.lightning_subscription_unsubscribe(self._handle)

    def close(self):
        """Unsubscribes: when it returns the callback is not running and never runs again (called from the
        callback itself, it returns at once and no further call follows)."""
        self._free()

    @property
    def active(self):
        return bool(self._handle) and _lib.lightning_subscription_active(self._handle) == 1

    def status(self):
        """Raises ClosedError once the database was closed; returns None otherwise."""
        if self._handle:
            _call(_lib.lightning_subscription_status, self._handle)

    @property
    def events_delivered(self):
        count = ctypes.c_uint64()
        if self._handle:
            _lib.lightning_subscription_events_delivered(self._handle, ctypes.byref(count))
        return count.value

    @property
    def events_lost(self):
        count = ctypes.c_uint64()
        if self._handle:
            _lib.lightning_subscription_events_lost(self._handle, ctypes.byref(count))
        return count.value


class BackupEngine(_Handle):
    """Incremental backups of databases into the backup root directory root (one engine per root: BusyError
    otherwise). Usable from several threads."""

    _destroy = "lightning_backup_engine_destroy"

    def __init__(self, root, library=None):
        lib = load_library(library)
        handle = ctypes.c_void_p()
        _call(lib.lightning_backup_engine_open, os.fsencode(root), None, ctypes.byref(handle))
        self._handle = handle

    def close(self):
        """Releases the root; later calls raise ClosedError. Closing again is fine."""
        if self._handle:
            _call(_lib.lightning_backup_engine_close, self._handle)


    def create_backup(self, db):
        """Backs up db (which keeps running) and returns the new backup's id."""
        backup_id = ctypes.c_uint64()
        _call(_lib.lightning_backup_engine_create_backup, self._handle, db._handle, ctypes.byref(backup_id))
        return backup_id.value

    def list(self):
        """The valid backups, oldest first, as BackupInfo tuples."""
        backups = ctypes.c_void_p()
        _call(_lib.lightning_backup_engine_list_backups, self._handle, ctypes.byref(backups))
        try:
            count = ctypes.c_size_t()
            _lib.lightning_backup_list_count(backups, ctypes.byref(count))
            result = []
            for i in range(count.value):
                fields = [ctypes.c_uint64() for _ in BackupInfo._fields]
                _lib.lightning_backup_list_get(backups, i, *(ctypes.byref(f) for f in fields))
                result.append(BackupInfo(*(f.value for f in fields)))
            return result
        finally:
            _lib.lightning_backup_list_destroy(backups)

    def verify(self, backup_id):
        """Checks every file of the backup (CorruptionError naming a damaged one; NotFoundError)."""
        _call(_lib.lightning_backup_engine_verify_backup, self._handle, backup_id)

    def delete(self, backup_id):
        _call(_lib.lightning_backup_engine_delete_backup, self._handle, backup_id)

    def purge(self, keep):
        """Deletes the oldest backups until at most keep remain."""
        _call(_lib.lightning_backup_engine_purge_old_backups, self._handle, keep)

    def restore(self, backup_id, directory, overwrite=False):
        """Restores the backup into directory (missing or empty, unless overwrite)."""
        _call(_lib.lightning_backup_engine_restore, self._handle, backup_id, os.fsencode(directory),
              1 if overwrite else 0)
