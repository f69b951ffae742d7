#!/usr/bin/env python3
# Copyright (c) Lightning authors. MIT License.
"""Tests of the ctypes module (lightning_db.py) over libLightning.so; CTest passes the library's path in
LIGHTNING_LIBRARY. Standard library only."""
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lightning_db  # noqa: E402


class LightningDbTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="lightning_py_")
        self.path = os.path.join(self.dir, "db")
        self.db = lightning_db.Database(self.path)

    def tearDown(self):
        self.db.close()
        shutil.rmtree(self.dir)

    def test_version(self):
        version = lightning_db.version()
        self.assertRegex(version, r"^\d+\.\d+\.\d+$")
        major, minor, patch = (int(x) for x in version.split("."))
        self.assertEqual(lightning_db.load_library().lightning_version_number(), major * 10000 + minor * 100 + patch)

    def test_put_get_delete(self):
        self.db.put(b"k", b"v")
        self.db.put("text", "caf\u00e9")
        self.db.put(b"nul\x00key", b"\x00\x01\x02")
        self.db.put(b"empty", b"")
        self.assertEqual(self.db.get(b"k"), b"v")
        self.assertEqual(self.db.get("text"), "caf\u00e9".encode())
        self.assertEqual(self.db.get(b"nul\x00key"), b"\x00\x01\x02")
        self.assertEqual(self.db.get(b"empty"), b"")
        self.assertIsNone(self.db.get(b"missing"))
        self.assertEqual(self.db.get(b"missing", b"dflt"), b"dflt")
        self.db.delete(b"k")
        self.assertIsNone(self.db.get(b"k"))
        self.db.delete(b"k")  # missing: not an error
        self.db.put(b"durable", b"yes", sync=True)
        self.assertEqual(self.db.get(b"durable"), b"yes")

    def test_reopen_keeps_data(self):
        self.db.put(b"k", b"v")
        self.db.close()
        self.db = lightning_db.Database(self.path, create_if_missing=False)
        self.assertEqual(self.db.get(b"k"), b"v")

    def test_errors(self):
        with self.assertRaises(lightning_db.InvalidArgumentError) as cm:
            self.db.put(b"", b"v")
        self.assertEqual(cm.exception.code, lightning_db.INVALID_ARGUMENT)
        self.assertIn("empty key", cm.exception.message)
        with self.assertRaises(lightning_db.InvalidArgumentError):
            self.db.put(b"k" * 5000, b"v")
        with self.assertRaises(TypeError):
            self.db.put(123, b"v")
        # The database is locked while open: a second handle is BUSY.
        with self.assertRaises(lightning_db.BusyError):
            lightning_db.Database(self.path)
        with self.assertRaises(lightning_db.NotFoundError):
            lightning_db.Database(os.path.join(self.dir, "absent"), create_if_missing=False)
        with self.assertRaises(lightning_db.InvalidArgumentError):
            lightning_db.Database(self.path + "2", memtable_size=1)
        # Every code maps to its own exception class.
        self.assertTrue(issubclass(lightning_db.ConflictError, lightning_db.LightningError))

    def test_closed(self):
        self.db.put(b"k", b"v")
        scan = self.db.scan()
        self.assertEqual(next(scan), (b"k", b"v"))
        txn = self.db.transaction()
        self.db.close()
        self.db.close()  # again: fine
        with self.assertRaises(lightning_db.ClosedError):
            self.db.get(b"k")
        with self.assertRaises(lightning_db.ClosedError):
            self.db.put(b"k", b"v")
        with self.assertRaises(lightning_db.ClosedError):
            next(scan)
        with self.assertRaises(lightning_db.ClosedError):
            txn.put(b"k", b"v")
        with self.assertRaises(lightning_db.ClosedError):
            list(self.db.scan())
        txn.close()

    def test_batch_is_atomic_and_checked(self):
        self.db.put(b"old", b"1")
        with self.db.batch() as batch:
            batch.put(b"a", b"1")
            batch.put(b"b", b"2")
            batch.delete(b"old")
            self.assertEqual(len(batch), 3)
            self.assertIsNone(self.db.get(b"a"))  # nothing before the block ends
        self.assertEqual(self.db.get(b"b"), b"2")
        self.assertIsNone(self.db.get(b"old"))
        # A block that raises writes nothing.
        with self.assertRaises(RuntimeError):
            with self.db.batch() as batch:
                batch.put(b"c", b"3")
                raise RuntimeError("abandon")
        self.assertIsNone(self.db.get(b"c"))
        batch = lightning_db.WriteBatch()
        with self.assertRaises(lightning_db.InvalidArgumentError):
            batch.put(b"", b"v")
        self.assertEqual(len(batch), 0)

    def test_scan(self):
        for i in range(10):
            self.db.put("k%d" % i, "v%d" % i)
        self.db.put(b"p:a", b"1")
        self.db.put(b"p:b", b"2")
        self.assertEqual([k for k, _ in self.db.scan(b"k3", b"k6")], [b"k3", b"k4", b"k5"])
        self.assertEqual([k for k, _ in self.db.scan(end=b"k3", reverse=True, limit=2)], [b"k2", b"k1"])
        self.assertEqual(list(self.db.scan(prefix=b"p:")), [(b"p:a", b"1"), (b"p:b", b"2")])
        self.assertEqual(len(list(self.db.scan())), 12)
        self.assertEqual(list(self.db.scan(prefix=b"none")), [])
        # An abandoned scan is released when the generator is.
        scan = self.db.scan()
        next(scan)
        scan.close()

    def test_transaction_commit_abort(self):
        self.db.put(b"x", b"0")
        with self.db.transaction() as txn:
            txn.put(b"x", b"1")
            txn.put(b"y", b"2")
            self.assertEqual(txn.get(b"x"), b"1")
            self.assertIsNone(self.db.get(b"y"))
            self.assertEqual([k for k, _ in txn.scan()], [b"x", b"y"])
            txn.delete(b"y")
            self.assertIsNone(txn.get(b"y"))
        self.assertEqual(self.db.get(b"x"), b"1")
        self.assertIsNone(self.db.get(b"y"))
        txn = self.db.transaction()
        txn.put(b"x", b"aborted")
        txn.abort()
        with self.assertRaises(lightning_db.ClosedError):
            txn.commit()
        txn.close()
        self.assertEqual(self.db.get(b"x"), b"1")

    def test_transaction_conflict(self):
        self.db.put(b"x", b"0")
        first, second = self.db.transaction(), self.db.transaction()
        first.put(b"x", b"first")
        second.put(b"x", b"second")
        first.commit()
        with self.assertRaises(lightning_db.ConflictError) as cm:
            second.commit()
        self.assertEqual(cm.exception.code, lightning_db.CONFLICT)
        first.close()
        second.close()
        self.assertEqual(self.db.get(b"x"), b"first")

    def test_serializable_rejects_write_skew(self):
        self.db.put(b"a", b"1")
        self.db.put(b"b", b"1")
        t1, t2 = self.db.transaction("serializable"), self.db.transaction("serializable")
        t1.get(b"b")
        t2.get(b"a")
        t1.put(b"a", b"0")
        t2.put(b"b", b"0")
        t1.commit()
        with self.assertRaises(lightning_db.ConflictError):
            t2.commit()
        t1.close()
        t2.close()

    def test_run_transaction_retries_on_conflict(self):
        self.db.put(b"counter", b"0")
        attempts = []

        def increment(txn):
            value = int(txn.get(b"counter"))
            if not attempts:
                # Someone else commits in between, once: this attempt must conflict.
                self.db.put(b"counter", b"10")
            attempts.append(value)
            txn.put(b"counter", str(value + 1))
            return value + 1

        self.assertEqual(self.db.run_transaction(increment), 11)
        self.assertEqual(attempts, [0, 10])
        self.assertEqual(self.db.get(b"counter"), b"11")

        def always_conflicts(txn):
            txn.put(b"counter", b"x")
            self.db.put(b"counter", b"y")

        with self.assertRaises(lightning_db.ConflictError):
            self.db.run_transaction(always_conflicts, max_attempts=3)

    def test_concurrent_increments(self):
        self.db.put(b"n", b"0")

        def worker():
            for _ in range(25):
                self.db.run_transaction(lambda txn: txn.put(b"n", str(int(txn.get(b"n")) + 1)))

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(self.db.get(b"n"), b"100")

    def test_flush_compact_stats(self):
        for i in range(100):
            self.db.put("k%03d" % i, "v" * 100)
        self.db.flush()
        self.assertGreaterEqual(self.db.stats()["flushes"], 1)
        self.db.compact()
        stats = self.db.stats()
        self.assertEqual(stats["tree_entries"], 100)
        self.assertEqual(stats["level0.files"], 0)
        self.assertEqual(self.db.get(b"k042"), b"v" * 100)

    def test_in_memory(self):
        db = lightning_db.Database("/mem", in_memory=True)
        db.put(b"k", b"v")
        self.assertEqual(db.get(b"k"), b"v")
        db.close()
        self.assertFalse(os.path.exists("/mem"))

    def test_checkpoint_and_verify(self):
        for i in range(20):
            self.db.put("k%02d" % i, "v%d" % i)
        copy = os.path.join(self.dir, "copy")
        self.db.checkpoint(copy)
        with self.assertRaises(lightning_db.InvalidArgumentError):
            self.db.checkpoint(copy)  # not empty any more
        report = self.db.verify()
        self.assertGreaterEqual(report["table_entries"] + report["tree_entries"], 20)
        with self.assertRaises(lightning_db.BusyError):
            lightning_db.verify_database(self.path)
        with self.assertRaises(lightning_db.NotFoundError):
            lightning_db.verify_database(os.path.join(self.dir, "none"))
        self.assertEqual(lightning_db.verify_database(copy)["table_entries"], 20)
        with lightning_db.Database(copy, create_if_missing=False) as db2:
            self.assertEqual(db2.get(b"k07"), b"v7")
        with self.assertRaises(lightning_db.BusyError):
            lightning_db.repair_database(self.path)
        report = lightning_db.repair_database(copy)  # intact: kept as it is
        self.assertEqual(report["tables_kept"], 1)
        self.assertEqual(report["manifest_rebuilt"], 0)
        self.assertEqual(report["dropped"], [])
        os.remove(os.path.join(copy, "MANIFEST"))
        report = lightning_db.repair_database(copy)
        self.assertEqual(report["manifest_rebuilt"], 1)
        with lightning_db.Database(copy, create_if_missing=False) as db2:
            self.assertEqual(db2.get(b"k07"), b"v7")

    def test_backups(self):
        root = os.path.join(self.dir, "backups")
        engine = lightning_db.BackupEngine(root)
        self.db.put(b"a", b"1")
        first = engine.create_backup(self.db)
        self.db.put(b"a", b"2")
        second = engine.create_backup(self.db)
        backups = engine.list()
        self.assertEqual([b.id for b in backups], [first, second])
        self.assertGreater(backups[0].size, 0)
        self.assertEqual(backups[1].last_sequence, backups[0].last_sequence + 1)
        engine.verify(first)
        with self.assertRaises(lightning_db.NotFoundError):
            engine.verify(99)
        with self.assertRaises(lightning_db.BusyError):
            lightning_db.BackupEngine(root)
        target = os.path.join(self.dir, "restored")
        engine.restore(first, target)
        with lightning_db.Database(target, create_if_missing=False) as db2:
            self.assertEqual(db2.get(b"a"), b"1")
        engine.restore(second, target, overwrite=True)
        with lightning_db.Database(target, create_if_missing=False) as db2:
            self.assertEqual(db2.get(b"a"), b"2")
        engine.purge(1)
        self.assertEqual([b.id for b in engine.list()], [second])
        engine.delete(second)
        self.assertEqual(engine.list(), [])
        engine.close()
        with self.assertRaises(lightning_db.ClosedError):
            engine.list()

    def test_subscribe(self):
        events = []
        done = threading.Event()

        def on_change(event):
            events.append(event)
            if len(events) == 3:
                done.set()

        sub = self.db.subscribe(on_change, prefix=b"p")
        self.db.put(b"p1", b"one")
        self.db.put(b"q1", b"skipped")
        with self.db.batch() as batch:
            batch.put(b"p2", b"two")
            batch.delete(b"p1")
        self.assertTrue(done.wait(60))
        self.assertEqual([(e.type, e.key, e.value) for e in events],
                         [(lightning_db.CHANGE_PUT, b"p1", b"one"), (lightning_db.CHANGE_PUT, b"p2", b"two"),
                          (lightning_db.CHANGE_DELETE, b"p1", b"")])
        self.assertEqual(events[2].sequence, events[1].sequence + 1)
        self.assertTrue(sub.active)
        sub.unsubscribe()  # the delivery thread is done: the counters are final
        self.assertFalse(sub.active)
        self.assertEqual(sub.events_delivered, 3)
        sub.close()
        with self.assertRaises(lightning_db.InvalidArgumentError):
            self.db.subscribe(on_change, max_pending_events=0)

        # Closing the database delivers what is queued, then ends the subscription.
        later = []
        sub = self.db.subscribe(later.append)
        for i in range(10):
            self.db.put("k%d" % i, "v")
        self.db.close()
        self.assertEqual([e.key for e in later], [("k%d" % i).encode() for i in range(10)])
        self.assertFalse(sub.active)
        with self.assertRaises(lightning_db.ClosedError):
            sub.status()
        sub.close()

    def test_finds_library_without_env(self):
        # Without LIGHTNING_LIBRARY the module falls back to the loader's search (as for an installed library).
        library = os.environ.get("LIGHTNING_LIBRARY")
        if not library:
            self.skipTest("LIGHTNING_LIBRARY not set")
        env = dict(os.environ)
        del env["LIGHTNING_LIBRARY"]
        env["LD_LIBRARY_PATH"] = os.path.dirname(library) + os.pathsep + env.get("LD_LIBRARY_PATH", "")
        env["PYTHONPATH"] = os.path.dirname(os.path.abspath(__file__))
        out = subprocess.run([sys.executable, "-c", "import lightning_db; print(lightning_db.version())"], env=env,
                             capture_output=True, text=True, check=False)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.strip(), lightning_db.version())

    def test_example_script(self):
        env = dict(os.environ)
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "example.py")
        out = subprocess.run([sys.executable, script, os.path.join(self.dir, "example")], env=env,
                             capture_output=True, text=True, check=False)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("total=2000", out.stdout)


if __name__ == "__main__":
    unittest.main()
