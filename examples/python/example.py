#!/usr/bin/env python3
# Copyright (c) Lightning authors. MIT License.
"""Lightning from Python through the C API: put/get/delete, a batch, scans, and a transfer between two accounts
in a transaction that is retried when it loses a race.

Usage: example.py <database directory>   (LIGHTNING_LIBRARY may name libLightning.so)
"""
import sys
import threading

import lightning_db


def transfer(db, source, target, amount):
    def body(txn):
        balance = int(txn.get(source, b"0"))
        if balance < amount:
            raise ValueError("insufficient funds in %s" % source)
        txn.put(source, str(balance - amount))
        txn.put(target, str(int(txn.get(target, b"0")) + amount))
    db.run_transaction(body)


def main(path):
    print("Lightning", lightning_db.version())
    with lightning_db.Database(path, compression="zstd") as db:
        db.put("greeting", "hello")
        print("greeting =", db.get("greeting"))
        db.delete("greeting")
        print("after delete:", db.get("greeting"))

        with db.batch() as batch:
            for i in range(5):
                batch.put("user:%d" % i, "name-%d" % i)
        print("users:", [(k.decode(), v.decode()) for k, v in db.scan(prefix="user:")])
        print("last two users, newest first:", [k.decode() for k, _ in db.scan(prefix="user:", reverse=True,
                                                                                limit=2)])

        try:
            db.put("", "empty keys are refused")
        except lightning_db.InvalidArgumentError as e:
            print("error:", e.message)

        # Four threads move money between two accounts at once; conflicting commits are retried, so the total
        # stays the same.
        db.put("account:a", "1000")
        db.put("account:b", "1000")
        def mover(i):
            for n in range(20):
                if (i + n) % 2:
                    transfer(db, "account:a", "account:b", 10)
                else:
                    transfer(db, "account:b", "account:a", 10)

        threads = [threading.Thread(target=mover, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        a, b = int(db.get("account:a")), int(db.get("account:b"))
        print("balances: a=%d b=%d total=%d" % (a, b, a + b))
        if a + b != 2000:
            print("the total changed!", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
